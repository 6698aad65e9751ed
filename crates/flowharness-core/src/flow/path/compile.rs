//! Compiling a path's text against a schema: every segment resolved once,
//! Avro (fields, `[]` items, union branches by short or full name,
//! nullable unions looked through) or JSON Schema (properties through
//! `$ref`s and alternatives).

use serde_json::Value;

use super::{Leaf, MsgPath, Step};
use crate::schema::Schema;
use crate::schema::avro::{AvroSchema, Node, NodeId};

/// Segments of a written path: names, each with whether it ends in `[]`.
fn segments(text: &str) -> Vec<(&str, bool)> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split('.')
        .map(|s| s.strip_suffix("[]").map_or((s, false), |n| (n, true)))
        .collect()
}

/// Where in a schema a path starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// The message root.
    Root,
    /// An Avro node (the record of a union branch).
    Avro(NodeId),
    /// A JSON Schema subschema.
    Json(&'a Value),
}

/// Compiles `text` against `schema` from `start`; the error says which
/// segment names nothing and what was there instead.
pub fn compile(schema: &Schema, start: Start<'_>, text: &str) -> Result<MsgPath, String> {
    match schema {
        Schema::Avro(avro) => {
            let node = match start {
                Start::Avro(id) => id,
                _ => avro.root(),
            };
            compile_avro(avro, node, text)
        }
        Schema::Json(json) => {
            let at = match start {
                Start::Json(s) => s,
                _ => json.json(),
            };
            compile_json(json.json(), at, text)
        }
        Schema::Protobuf(proto) => {
            let at = match start {
                Start::Json(s) => s,
                _ => proto.json(),
            };
            compile_json(proto.json(), at, text)
        }
    }
}

/// The root-to-here prefix for a state inside a union branch, and how a
/// short path resolves inside that branch's record.
pub(in crate::flow) fn extend(prefix: &MsgPath, inner: &MsgPath) -> MsgPath {
    prefix.join(inner)
}

/// Whether `path` reaches into the union at `union` through a branch other
/// than `branch`, so names nothing in a message of that branch.
pub(in crate::flow) fn other_branch(path: &MsgPath, union: &MsgPath, branch: &str) -> bool {
    path.selects_other_branch(union, branch)
}

fn compile_avro(schema: &AvroSchema, start: NodeId, text: &str) -> Result<MsgPath, String> {
    compile_avro_node(schema, start, text).map(|(p, _)| p)
}

/// Compiles an Avro path and gives the node it ends on as well.
pub(in crate::flow) fn compile_avro_node(
    schema: &AvroSchema,
    start: NodeId,
    text: &str,
) -> Result<(MsgPath, NodeId), String> {
    let mut steps = Vec::new();
    let mut node = start;
    let mut segs = segments(text).into_iter().peekable();
    while let Some((name, items)) = segs.next() {
        if name.is_empty() {
            return Err(format!("{text:?} has an empty segment"));
        }
        // A union here: the segment names a branch, or the union is nullable.
        if let Node::Union(u) = schema.node(node) {
            if let Some(b) = u.find(name) {
                if items {
                    return Err(format!("{name} is a union branch, not an array: drop the []"));
                }
                steps.push(Step::Branch(u.keys[b].full.clone()));
                node = u.branches[b];
                continue;
            }
            match nullable(schema, node) {
                Some((key, inner)) => {
                    steps.push(Step::Nullable(key));
                    node = inner;
                }
                None => {
                    let names: Vec<&str> = u.keys.iter().map(|k| k.short.as_str()).collect();
                    return Err(format!(
                        "{} is a union: name its branch before {name:?} ({})",
                        prefix_text(text, &steps),
                        names.join(", ")
                    ));
                }
            }
        }
        let Node::Record(record) = schema.node(node) else {
            return Err(format!(
                "{name:?} is looked up in {}, which has no fields",
                schema.describe(node)
            ));
        };
        let Some(field) = record.fields.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(format!(
                "record {} has no field {name:?} (fields: {})",
                record.name.name,
                names.join(", ")
            ));
        };
        steps.push(Step::Field(name.to_string()));
        node = field.node;
        if items {
            if let Some((key, inner)) = nullable(schema, node) {
                steps.push(Step::Nullable(key));
                node = inner;
            }
            let Node::Array(item) = schema.node(node) else {
                return Err(format!(
                    "{name} is {}, not an array: drop the []",
                    schema.describe(node)
                ));
            };
            steps.push(Step::Items);
            node = *item;
        }
        // The path ends on a nullable field: look through it to its value.
        if segs.peek().is_none()
            && let Some((key, inner)) = nullable(schema, node)
        {
            steps.push(Step::Nullable(key));
            node = inner;
        }
    }
    let leaf = match schema.node(node) {
        Node::Int(l) | Node::Long(l) => Leaf::Integer(*l),
        Node::String(_) => Leaf::String {
            date_time: false,
            date: false,
        },
        Node::Enum(_) => Leaf::Enum,
        _ => Leaf::Other,
    };
    Ok((
        MsgPath {
            text: text.to_string(),
            steps,
            leaf,
        },
        node,
    ))
}

/// The one non-null branch of a `["null", T]` union: its key and node.
fn nullable(schema: &AvroSchema, node: NodeId) -> Option<(String, NodeId)> {
    let Node::Union(u) = schema.node(node) else { return None };
    let others: Vec<usize> = (0..u.branches.len()).filter(|i| u.keys[*i].full != "null").collect();
    match others.as_slice() {
        [one] if u.null_branch().is_some() => Some((u.keys[*one].full.clone(), u.branches[*one])),
        _ => None,
    }
}

fn prefix_text(text: &str, steps: &[Step]) -> String {
    let n = steps
        .iter()
        .filter(|s| matches!(s, Step::Field(_) | Step::Branch(_)))
        .count();
    let written: Vec<&str> = text.split('.').take(n).collect();
    if written.is_empty() {
        "the message".to_string()
    } else {
        written.join(".")
    }
}

fn compile_json(root: &Value, start: &Value, text: &str) -> Result<MsgPath, String> {
    let mut steps = Vec::new();
    let mut here: Vec<&Value> = vec![start];
    for (name, items) in segments(text) {
        let found: Vec<&Value> = here.iter().flat_map(|s| property(root, s, name)).collect();
        if found.is_empty() {
            return Err(format!(
                "the schema has no property {name:?} at {}",
                prefix_text(text, &steps)
            ));
        }
        steps.push(Step::Field(name.to_string()));
        here = found;
        if items {
            let items: Vec<&Value> = here
                .iter()
                .flat_map(|s| alternatives(root, s))
                .filter_map(|s| s.get("items"))
                .collect();
            if items.is_empty() {
                return Err(format!("{name} is not an array: drop the []"));
            }
            steps.push(Step::Items);
            here = items;
        }
    }
    let all: Vec<&Value> = here.iter().flat_map(|s| alternatives(root, s)).collect();
    let has = |key: &str, value: &str| {
        all.iter().any(|s| {
            s.get(key)
                .is_some_and(|v| v == value || v.as_array().is_some_and(|a| a.iter().any(|x| x == value)))
        })
    };
    let leaf = if has("type", "integer") {
        Leaf::Integer(None)
    } else if has("type", "string")
        || all
            .iter()
            .any(|s| s.get("enum").is_some() || s.get("const").is_some_and(Value::is_string))
    {
        Leaf::String {
            date_time: has("format", "date-time"),
            date: has("format", "date"),
        }
    } else {
        Leaf::Other
    };
    Ok(MsgPath {
        text: text.to_string(),
        steps,
        leaf,
    })
}

/// A subschema and everything it is combined with: `$ref`, `allOf`,
/// `anyOf`, `oneOf`, `then`, `else`.
fn alternatives<'a>(root: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let mut stack = vec![schema];
    while let Some(s) = stack.pop() {
        if out.len() > 512 {
            break;
        }
        out.push(s);
        if let Some(Value::String(r)) = s.get("$ref")
            && let Some(target) = r.strip_prefix('#').and_then(|ptr| root.pointer(ptr))
        {
            stack.push(target);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            stack.extend(s.get(key).and_then(Value::as_array).into_iter().flatten());
        }
        stack.extend(["then", "else"].iter().filter_map(|k| s.get(*k)));
    }
    out
}

fn property<'a>(root: &'a Value, schema: &'a Value, name: &str) -> Vec<&'a Value> {
    alternatives(root, schema)
        .into_iter()
        .filter_map(|s| s.get("properties").and_then(|p| p.get(name)))
        .collect()
}

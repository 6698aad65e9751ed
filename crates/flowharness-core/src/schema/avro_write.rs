//! Writes a node of an Avro schema back as a schema document of its own:
//! every named type by its full name, defined where it is first used and
//! referred to by name after. A branch of a union is then a schema that a
//! registry can hold by itself (the topic-record subject strategy).

use serde_json::{Map, Value, json};

use super::avro::{AvroSchema, Logical, Node, NodeId};

/// The schema of `id` as a standalone document.
pub fn standalone(schema: &AvroSchema, id: NodeId) -> Value {
    let mut defined = Vec::new();
    write(schema, id, &mut defined)
}

fn logical(base: &str, l: Option<Logical>) -> Value {
    match l {
        None => Value::String(base.to_string()),
        Some(Logical::Decimal { precision, scale }) => {
            json!({"type": base, "logicalType": "decimal", "precision": precision, "scale": scale})
        }
        Some(l) => json!({"type": base, "logicalType": l.name()}),
    }
}

fn named(out: &mut Map<String, Value>, name: &super::avro::Name, aliases: &[String]) {
    out.insert("name".into(), Value::String(name.name.clone()));
    if let Some(ns) = name.namespace.as_ref().filter(|n| !n.is_empty()) {
        out.insert("namespace".into(), Value::String(ns.clone()));
    }
    if !aliases.is_empty() {
        out.insert("aliases".into(), json!(aliases));
    }
}

fn write(schema: &AvroSchema, id: NodeId, defined: &mut Vec<NodeId>) -> Value {
    let node = schema.node(id);
    if let Some(name) = node.name() {
        if defined.contains(&id) {
            return Value::String(name.fullname());
        }
        defined.push(id);
    }
    match node {
        Node::Null => json!("null"),
        Node::Boolean => json!("boolean"),
        Node::Int(l) => logical("int", *l),
        Node::Long(l) => logical("long", *l),
        Node::Float => json!("float"),
        Node::Double => json!("double"),
        Node::Bytes(l) => logical("bytes", *l),
        Node::String(l) => logical("string", *l),
        Node::Array(items) => json!({"type": "array", "items": write(schema, *items, defined)}),
        Node::Map(values) => json!({"type": "map", "values": write(schema, *values, defined)}),
        Node::Union(u) => Value::Array(u.branches.iter().map(|b| write(schema, *b, defined)).collect()),
        Node::Enum(e) => {
            let mut out = Map::new();
            out.insert("type".into(), json!("enum"));
            named(&mut out, &e.name, &e.aliases);
            out.insert("symbols".into(), json!(e.symbols));
            if let Some(d) = &e.default {
                out.insert("default".into(), json!(d));
            }
            Value::Object(out)
        }
        Node::Fixed(f) => {
            let mut out = Map::new();
            out.insert("type".into(), json!("fixed"));
            named(&mut out, &f.name, &f.aliases);
            out.insert("size".into(), json!(f.size));
            if let Some(l) = f.logical {
                out.insert("logicalType".into(), json!(l.name()));
                if let Logical::Decimal { precision, scale } = l {
                    out.insert("precision".into(), json!(precision));
                    out.insert("scale".into(), json!(scale));
                }
            }
            Value::Object(out)
        }
        Node::Record(r) => {
            let mut out = Map::new();
            out.insert("type".into(), json!("record"));
            named(&mut out, &r.name, &r.aliases);
            if let Some(doc) = &r.doc {
                out.insert("doc".into(), json!(doc));
            }
            let fields: Vec<Value> = r
                .fields
                .iter()
                .map(|f| {
                    let mut field = Map::new();
                    field.insert("name".into(), json!(f.name));
                    field.insert("type".into(), write(schema, f.node, defined));
                    if let Some(d) = &f.default {
                        field.insert("default".into(), d.clone());
                    }
                    if !f.aliases.is_empty() {
                        field.insert("aliases".into(), json!(f.aliases));
                    }
                    if let Some(doc) = &f.doc {
                        field.insert("doc".into(), json!(doc));
                    }
                    Value::Object(field)
                })
                .collect();
            out.insert("fields".into(), Value::Array(fields));
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::avro_parse::parse_value;

    #[test]
    fn a_branch_with_a_shared_type_becomes_a_schema_of_its_own() {
        let schema = parse_value(&json!([
            {"type": "record", "name": "A", "namespace": "x", "fields": [
                {"name": "meta", "type": {"type": "record", "name": "Meta", "fields": [{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}}
            ]},
            {"type": "record", "name": "B", "namespace": "x", "fields": [
                {"name": "meta", "type": "Meta"},
                {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["P", "Q"]}, "default": "P"}
            ]}
        ]))
        .expect("parses");
        let Node::Union(u) = schema.node(schema.root()) else {
            panic!("a union")
        };
        let b = standalone(&schema, u.branches[1]);
        assert_eq!(
            b["fields"][0]["type"]["name"], "Meta",
            "the shared type is defined where B first uses it"
        );
        let reparsed = parse_value(&b).expect("a schema of its own");
        assert_eq!(reparsed.root_name().as_deref(), Some("x.B"));
        let whole = standalone(&schema, schema.root());
        assert_eq!(
            whole[1]["fields"][0]["type"], "x.Meta",
            "referred to by name after its definition"
        );
        parse_value(&whole).expect("round trips");
    }
}

//! Field paths from the message root, compiled against the schema.
//!
//! A path is written as a user reads a message: field names joined by `.`,
//! `[]` after a field for each item of an array, and, in Avro, the short (or
//! full) name of a union branch as a segment of its own:
//! `payload.OrderPlaced.lines[].sku`. A nullable field (`["null", T]`) needs
//! no branch segment: the path looks through it. Compiling resolves every
//! segment once, so reading and writing a value never guesses what a JSON
//! object is: a union wrapper is a wrapper because the schema says so.

use serde_json::{Map, Value};

use crate::schema::avro::Logical;

mod compile;

pub use compile::{Start, compile};
pub(super) use compile::{compile_avro_node, extend, other_branch};

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A record field or JSON object property.
    Field(String),
    /// Every item of an array.
    Items,
    /// The named branch of an Avro union (its full name, as Avro JSON keys it).
    Branch(String),
    /// Through a union with one non-null branch (its key, for writing).
    Nullable(String),
}

/// What a path ends on, as far as flows care: times, states and stamps
/// depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// Avro `long`/`int`, JSON `integer`: the unit comes from the logical
    /// type (Avro) or from the spec.
    Integer(Option<Logical>),
    /// A string; `date_time` when JSON Schema says `format: date-time`,
    /// `date` for `format: date`.
    String { date_time: bool, date: bool },
    /// An Avro enum.
    Enum,
    /// Anything else: records, arrays, unions, numbers, booleans.
    Other,
}

/// A compiled path from the message root.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgPath {
    text: String,
    steps: Vec<Step>,
    leaf: Leaf,
}

impl std::fmt::Display for MsgPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl MsgPath {
    /// The path as written from the message root.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn leaf(&self) -> Leaf {
        self.leaf
    }

    /// Whether the path goes through an array (`[]`), so has many values.
    pub fn has_items(&self) -> bool {
        self.steps.contains(&Step::Items)
    }

    /// The path as the generators' hints spell it: field names, `[]` for
    /// items, and the short name of every named union branch it passes
    /// (a trailing nullable wrapper left out, so the path names the field).
    pub fn hint_path(&self) -> String {
        let mut out = String::new();
        let end = match self.steps.last() {
            Some(Step::Nullable(_)) => self.steps.len() - 1,
            _ => self.steps.len(),
        };
        for step in &self.steps[..end] {
            let segment = match step {
                Step::Field(n) => n.as_str(),
                Step::Items => {
                    out.push_str("[]");
                    continue;
                }
                Step::Branch(full) | Step::Nullable(full) => {
                    if !full.contains('.') && is_primitive(full) {
                        continue;
                    }
                    full.rsplit('.').next().unwrap_or(full)
                }
            };
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
        out
    }

    /// `self` extended by `other` (whose steps start where `self` ends).
    fn join(&self, other: &MsgPath) -> MsgPath {
        let text = if self.text.is_empty() {
            other.text.clone()
        } else if other.text.is_empty() {
            self.text.clone()
        } else {
            format!("{}.{}", self.text, other.text)
        };
        let mut steps = self.steps.clone();
        steps.extend(other.steps.iter().cloned());
        MsgPath {
            text,
            steps,
            leaf: other.leaf,
        }
    }

    /// Whether this path selects a branch of the union at `union` other than `branch`.
    fn selects_other_branch(&self, union: &MsgPath, branch: &str) -> bool {
        self.steps.len() > union.steps.len()
            && self.steps[..union.steps.len()] == union.steps[..]
            && matches!(&self.steps[union.steps.len()], Step::Branch(b) if b != branch)
    }

    /// Every value at the path (one per array item below a `[]`); nulls are left out.
    pub fn get_all<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![value];
        for step in &self.steps {
            let mut next = Vec::with_capacity(current.len());
            for v in current {
                match step {
                    Step::Field(name) => next.extend(v.as_object().and_then(|m| field(m, name))),
                    Step::Items => next.extend(v.as_array().into_iter().flatten()),
                    Step::Branch(full) => next.extend(v.as_object().and_then(|m| branch(m, full))),
                    Step::Nullable(_) => match v {
                        Value::Null => {}
                        Value::Object(m) if m.len() == 1 => next.extend(m.values().next()),
                        other => next.push(other),
                    },
                }
            }
            current = next;
        }
        current.retain(|v| !v.is_null());
        current
    }

    /// The value at the path, when there is one and it is not null.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        // Until a `[]`, at most one value at each step, so no list is
        // needed (the checker reads several paths of every event).
        let mut v = value;
        for step in &self.steps {
            v = match step {
                Step::Field(name) => field(v.as_object()?, name)?,
                Step::Items => return self.get_all(value).into_iter().next(),
                Step::Branch(full) => branch(v.as_object()?, full)?,
                Step::Nullable(_) => match v {
                    Value::Null => return None,
                    Value::Object(m) if m.len() == 1 => m.values().next()?,
                    other => other,
                },
            };
        }
        (!v.is_null()).then_some(v)
    }

    /// Writes `new` at the path, creating records, branches and nullable
    /// wrappers on the way. A path through an array writes nothing.
    pub fn set(&self, value: &mut Value, new: Value) {
        let null = new.is_null();
        self.set_with(value, null, |slot| *slot = new);
    }

    /// As [`MsgPath::set`], copying `new` into the place: a string there
    /// already keeps its buffer.
    pub fn set_from(&self, value: &mut Value, new: &Value) {
        self.set_with(value, new.is_null(), |slot| match (slot, new) {
            (Value::String(old), Value::String(s)) => old.clone_from(s),
            (slot, new) => *slot = new.clone(),
        });
    }

    fn set_with(&self, value: &mut Value, null: bool, assign: impl FnOnce(&mut Value)) {
        if self.has_items() {
            return;
        }
        let mut current = value;
        let last = self.steps.len().saturating_sub(1);
        for (i, step) in self.steps.iter().enumerate() {
            let terminal = i == last;
            match step {
                Step::Field(name) => {
                    if !current.is_object() {
                        *current = Value::Object(Map::new());
                    }
                    let Value::Object(map) = current else { return };
                    // The field's name is copied only when the field is new.
                    if field(map, name).is_none() {
                        map.insert(name.clone(), Value::Null);
                    }
                    let Some(slot) = field_mut(map, name) else { return };
                    if terminal {
                        assign(slot);
                        return;
                    }
                    current = slot;
                }
                Step::Branch(full) => {
                    let holds = current.as_object().is_some_and(|m| branch(m, full).is_some());
                    if !holds {
                        let mut m = Map::new();
                        m.insert(full.clone(), Value::Object(Map::new()));
                        *current = Value::Object(m);
                    }
                    let Some(inner) = current.as_object_mut().and_then(|m| m.values_mut().next()) else {
                        return;
                    };
                    if terminal {
                        assign(inner);
                        return;
                    }
                    current = inner;
                }
                Step::Nullable(key) => {
                    if terminal && null {
                        *current = Value::Null;
                        return;
                    }
                    let wrapped = current.as_object().is_some_and(|m| m.len() == 1);
                    if !wrapped {
                        let mut m = Map::new();
                        m.insert(key.clone(), Value::Object(Map::new()));
                        *current = Value::Object(m);
                    }
                    let Some(inner) = current.as_object_mut().and_then(|m| m.values_mut().next()) else {
                        return;
                    };
                    if terminal {
                        assign(inner);
                        return;
                    }
                    current = inner;
                }
                Step::Items => return,
            }
        }
        assign(current);
    }
}

/// Records this small are searched in order: a few length-and-bytes
/// compares cost less than hashing the name (every event reads and
/// writes several paths, in records of a few fields each).
const SCAN: usize = 16;

/// A record's field by name.
fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() <= SCAN {
        map.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        map.get(name)
    }
}

fn field_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    if map.len() <= SCAN {
        map.iter_mut().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        map.get_mut(name)
    }
}

/// The value under a union wrapper `{full: value}`, when the wrapper holds
/// that branch.
fn branch<'a>(map: &'a Map<String, Value>, full: &str) -> Option<&'a Value> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((k, v)), None) if k.as_str() == full => Some(v),
        _ => None,
    }
}

fn is_primitive(name: &str) -> bool {
    matches!(
        name,
        "null" | "boolean" | "int" | "long" | "float" | "double" | "bytes" | "string" | "array" | "map"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Schema;

    fn avro(json: Value) -> Schema {
        Schema::from_value(&json).expect("schema")
    }

    fn order_schema() -> Schema {
        avro(json!({
            "type": "record", "name": "OrderEvent", "namespace": "shop",
            "fields": [
                {"name": "orderId", "type": "string"},
                {"name": "note", "type": ["null", "string"], "default": null},
                {"name": "payload", "type": [
                    {"type": "record", "name": "OrderPlaced", "fields": [
                        {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}}}
                    ]},
                    {"type": "record", "name": "Shipped", "fields": [{"name": "carrier", "type": "string"}]}
                ]}
            ]
        }))
    }

    #[test]
    fn message_level_paths_reach_through_branches_and_arrays() {
        let s = order_schema();
        let sku = compile(&s, Start::Root, "payload.OrderPlaced.lines[].sku").expect("compiles");
        let v = json!({"orderId": "o1", "note": {"string": "hi"}, "payload": {"shop.OrderPlaced": {"lines": [{"sku": "A"}, {"sku": "B"}]}}});
        assert_eq!(sku.get_all(&v), [&json!("A"), &json!("B")]);
        let note = compile(&s, Start::Root, "note").expect("compiles");
        assert_eq!(note.get(&v), Some(&json!("hi")));
        let carrier = compile(&s, Start::Root, "payload.Shipped.carrier").expect("compiles");
        assert_eq!(carrier.get(&v), None, "another branch names nothing here");
    }

    #[test]
    fn paths_that_name_nothing_say_why() {
        let s = order_schema();
        let e = compile(&s, Start::Root, "ordrId").expect_err("no such field");
        assert!(e.contains("record OrderEvent has no field \"ordrId\""), "{e}");
        let e = compile(&s, Start::Root, "payload.lines").expect_err("a union needs its branch");
        assert!(e.contains("payload is a union: name its branch"), "{e}");
        let e = compile(&s, Start::Root, "orderId[]").expect_err("not an array");
        assert!(e.contains("not an array"), "{e}");
    }

    #[test]
    fn set_writes_inside_and_creates_wrappers() {
        let s = order_schema();
        let note = compile(&s, Start::Root, "note").expect("compiles");
        let mut v = json!({"orderId": "o1", "note": null});
        note.set(&mut v, json!("x"));
        assert_eq!(v["note"], json!({"string": "x"}));
        note.set(&mut v, json!("y"));
        assert_eq!(v["note"], json!({"string": "y"}));
        let carrier = compile(&s, Start::Root, "payload.Shipped.carrier").expect("compiles");
        carrier.set(&mut v, json!("DHL"));
        assert_eq!(v["payload"], json!({"shop.Shipped": {"carrier": "DHL"}}));
    }

    #[test]
    fn json_schema_paths_follow_refs_and_combinators() {
        let s = Schema::from_value(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"meta": {"type": "object", "properties": {"createdAt": {"type": "string", "format": "date-time"}}}},
            "properties": {"metadata": {"$ref": "#/$defs/meta"}, "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}}}
        }))
        .expect("schema");
        let p = compile(&s, Start::Root, "metadata.createdAt").expect("compiles");
        assert_eq!(
            p.leaf(),
            Leaf::String {
                date_time: true,
                date: false
            }
        );
        let n = compile(&s, Start::Root, "items[].n").expect("compiles");
        assert_eq!(n.leaf(), Leaf::Integer(None));
        let unknown = compile(&s, Start::Root, "metadata.nope").unwrap_err();
        assert!(unknown.contains("\"nope\""), "{unknown}");
    }
}

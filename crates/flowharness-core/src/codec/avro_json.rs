//! The Avro JSON encoding, schema-directed: validation that reports every
//! violation with its path, normalization of union keys to full names, and
//! conversion of schema defaults. apache-avro has none of this.
//!
//! A union value is `null` or `{"full.Name": value}`; short names are
//! accepted on input. Bytes and fixed are strings of code points 0–255.

use serde_json::{Map, Value};

use crate::schema::avro::{AvroSchema, Logical, Node, NodeId};
use crate::schema::path::{FieldPath, Segment, Violation, describe_json};

/// Every way `value` breaks the schema, each with its path. Empty when valid.
pub fn validate(schema: &AvroSchema, value: &Value) -> Vec<Violation> {
    // Most values are valid: the encoder's fast path says so without
    // building any path; only invalid values take the walk below.
    if super::binary::is_valid(schema, value) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut path = FieldPath::root();
    check(schema, schema.root(), value, &mut path, &mut out);
    out
}

/// Validates against one node of the schema.
pub fn validate_node(schema: &AvroSchema, id: NodeId, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    check(schema, id, value, &mut FieldPath::root(), &mut out);
    out
}

fn expected(schema: &AvroSchema, id: NodeId, value: &Value) -> String {
    format!("expected {}, found {}", schema.describe(id), describe_json(value))
}

pub(crate) fn bytes_of(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

fn check_decimal(schema: &AvroSchema, id: NodeId, bytes: &[u8], path: &FieldPath, out: &mut Vec<Violation>) {
    if let Some(Logical::Decimal { precision, .. }) = schema.node(id).logical()
        && !decimal_fits(bytes, precision)
    {
        let message = format!(
            "expected {}: the unscaled value has more than {precision} digits",
            schema.describe(id)
        );
        out.push(Violation::new(path, message));
    }
}

/// Whether big-endian two's complement `bytes` hold an unscaled decimal
/// of at most `precision` digits.
pub(crate) fn decimal_fits(bytes: &[u8], precision: u32) -> bool {
    if bytes.is_empty() {
        return true;
    }
    let fill = if bytes[0] >= 0x80 { 0xff } else { 0 };
    let cut = bytes.len().saturating_sub(16);
    // Bytes beyond 16 must only extend the sign, and the sign must survive.
    if bytes[..cut].iter().any(|b| *b != fill) || (cut > 0 && (bytes[cut] >= 0x80) != (fill == 0xff)) {
        return false;
    }
    let mut full = [fill; 16];
    full[16 - (bytes.len() - cut)..].copy_from_slice(&bytes[cut..]);
    let n = i128::from_be_bytes(full);
    precision > 38 || n.unsigned_abs() < 10u128.pow(precision)
}

/// Whether a string is a hyphenated UUID.
pub fn is_uuid_str(s: &str) -> bool {
    is_uuid(s)
}

pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn check(schema: &AvroSchema, id: NodeId, value: &Value, path: &mut FieldPath, out: &mut Vec<Violation>) {
    let mismatch =
        |out: &mut Vec<Violation>, path: &FieldPath| out.push(Violation::new(path, expected(schema, id, value)));
    match (schema.node(id), value) {
        (Node::Null, Value::Null) | (Node::Boolean, Value::Bool(_)) => {}
        (Node::Int(_), Value::Number(n)) if n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()) => {}
        (Node::Long(_), Value::Number(n)) if n.as_i64().is_some() => {}
        (Node::Float | Node::Double, Value::Number(_)) => {}
        (Node::String(Some(Logical::Uuid)), Value::String(s)) if !is_uuid(s) => mismatch(out, path),
        (Node::String(_), Value::String(_)) => {}
        (Node::Bytes(_), Value::String(s)) => match bytes_of(s) {
            None => out.push(Violation::new(
                path,
                "expected bytes: a string of code points 0-255, found a character above 255",
            )),
            Some(b) => check_decimal(schema, id, &b, path, out),
        },
        (Node::Fixed(f), Value::String(s)) => match bytes_of(s) {
            Some(b) if b.len() == f.size => check_decimal(schema, id, &b, path, out),
            Some(b) => out.push(Violation::new(
                path,
                format!("expected fixed {} of {} bytes, found {} bytes", f.name, f.size, b.len()),
            )),
            None => out.push(Violation::new(
                path,
                "expected fixed: a string of code points 0-255, found a character above 255",
            )),
        },
        (Node::Enum(e), Value::String(s)) => {
            if !e.symbols.contains(s) {
                out.push(Violation::new(
                    path,
                    format!(
                        "expected one of enum {} [{}], found {s:?}",
                        e.name,
                        e.symbols.join(", ")
                    ),
                ));
            }
        }
        (Node::Array(items), Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                path.push(Segment::Index(i));
                check(schema, *items, item, path, out);
                path.pop();
            }
        }
        (Node::Map(values), Value::Object(map)) => {
            for (key, item) in map {
                path.push(Segment::Key(key.clone()));
                check(schema, *values, item, path, out);
                path.pop();
            }
        }
        (Node::Record(record), Value::Object(map)) => {
            for field in &record.fields {
                path.push(Segment::Field(field.name.clone()));
                match map.get(&field.name) {
                    Some(v) => check(schema, field.node, v, path, out),
                    None if field.default_value.is_some() => {}
                    None => out.push(Violation::new(
                        path,
                        format!("missing field of type {}", schema.describe(field.node)),
                    )),
                }
                path.pop();
            }
            for key in map.keys() {
                if !record.fields.iter().any(|f| &f.name == key) {
                    path.push(Segment::Field(key.clone()));
                    out.push(Violation::new(
                        path,
                        format!("unknown field: record {} has no field {key:?}", record.name),
                    ));
                    path.pop();
                }
            }
        }
        (Node::Union(union), Value::Null) => {
            if union.null_branch().is_none() {
                mismatch(out, path);
            }
        }
        (Node::Union(union), Value::Object(map)) if map.len() == 1 => {
            let (key, inner) = map
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", &Value::Null));
            match union.find(key) {
                Some(i) if union.keys[i].full == "null" => out.push(Violation::new(
                    path,
                    "the null branch is written as null, not {\"null\": ...}",
                )),
                Some(i) => {
                    path.push(Segment::Branch(union.keys[i].short.clone()));
                    check(schema, union.branches[i], inner, path, out);
                    path.pop();
                }
                None => out.push(Violation::new(
                    path,
                    format!("unknown union branch {key:?}, expected one of [{}]", keys_of(union)),
                )),
            }
        }
        (Node::Union(union), other) => out.push(Violation::new(
            path,
            format!(
                "expected union [{}] written as {{\"branch\": value}}, found {}",
                keys_of(union),
                describe_json(other)
            ),
        )),
        _ => mismatch(out, path),
    }
}

fn keys_of(union: &crate::schema::avro::Union) -> String {
    union
        .keys
        .iter()
        .map(|k| k.full.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites a valid value so that every union key is the branch's full
/// name, and fills in missing fields from their defaults. Fails with the
/// violations when the value is invalid.
pub fn normalize(schema: &AvroSchema, value: &Value) -> Result<Value, Vec<Violation>> {
    let violations = validate(schema, value);
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(normalized(schema, schema.root(), value))
}

/// As [`normalize`], taking the value: one already in the normal form (the
/// schema's field order, every field present, unions keyed by full name,
/// as a fixture this tool wrote holds) is returned as it is, not copied.
pub fn normalize_owned(schema: &AvroSchema, value: Value) -> Result<Value, Vec<Violation>> {
    let violations = validate(schema, &value);
    if !violations.is_empty() {
        return Err(violations);
    }
    if is_normal(schema, schema.root(), &value) {
        return Ok(value);
    }
    Ok(normalized(schema, schema.root(), &value))
}

/// As [`normalize_owned`], but a value that breaks the schema comes back
/// as it is (for readers that report violations later).
pub fn normalize_lenient(schema: &AvroSchema, value: Value) -> Value {
    // A normal value is returned unchanged either way: no need to validate.
    if is_normal(schema, schema.root(), &value) || !validate(schema, &value).is_empty() {
        return value;
    }
    normalized(schema, schema.root(), &value)
}

/// Whether [`normalized`] would give back `value` unchanged.
fn is_normal(schema: &AvroSchema, id: NodeId, value: &Value) -> bool {
    match (schema.node(id), value) {
        (Node::Array(items), Value::Array(list)) => list.iter().all(|v| is_normal(schema, *items, v)),
        (Node::Map(values), Value::Object(map)) => map.values().all(|v| is_normal(schema, *values, v)),
        (Node::Record(record), Value::Object(map)) => {
            map.len() == record.fields.len()
                && map
                    .iter()
                    .zip(&record.fields)
                    .all(|((k, v), field)| *k == field.name && is_normal(schema, field.node, v))
        }
        (Node::Union(union), Value::Object(map)) => {
            match map.iter().next().and_then(|(k, v)| union.find(k).map(|i| (i, k, v))) {
                Some((i, k, inner)) => {
                    map.len() == 1 && *k == union.keys[i].full && is_normal(schema, union.branches[i], inner)
                }
                None => true,
            }
        }
        _ => true,
    }
}

fn normalized(schema: &AvroSchema, id: NodeId, value: &Value) -> Value {
    match (schema.node(id), value) {
        (Node::Array(items), Value::Array(list)) => {
            Value::Array(list.iter().map(|v| normalized(schema, *items, v)).collect())
        }
        (Node::Map(values), Value::Object(map)) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(schema, *values, v)))
                .collect(),
        ),
        (Node::Record(record), Value::Object(map)) => {
            let mut out = Map::new();
            for field in &record.fields {
                let v = match map.get(&field.name) {
                    Some(v) => normalized(schema, field.node, v),
                    None => field.default_value.clone().unwrap_or(Value::Null),
                };
                out.insert(field.name.clone(), v);
            }
            Value::Object(out)
        }
        (Node::Union(union), Value::Object(map)) => {
            match map.iter().next().and_then(|(k, v)| union.find(k).map(|i| (i, v))) {
                Some((i, inner)) => {
                    let mut out = Map::new();
                    out.insert(union.keys[i].full.clone(), normalized(schema, union.branches[i], inner));
                    Value::Object(out)
                }
                None => value.clone(),
            }
        }
        _ => value.clone(),
    }
}

/// Converts a field default (written in the schema's default encoding,
/// where a union takes its first branch's value unwrapped) into the Avro
/// JSON encoding.
pub fn default_to_value(schema: &AvroSchema, id: NodeId, default: &Value) -> Result<Value, String> {
    match (schema.node(id), default) {
        (Node::Union(union), _) => {
            let first = union.branches[0];
            let inner = default_to_value(schema, first, default).map_err(|e| {
                format!(
                    "a union default must match the first branch ({}): {e}",
                    union.keys[0].full
                )
            })?;
            if matches!(schema.node(first), Node::Null) {
                return Ok(Value::Null);
            }
            let mut out = Map::new();
            out.insert(union.keys[0].full.clone(), inner);
            Ok(Value::Object(out))
        }
        (Node::Record(record), Value::Object(map)) => {
            let mut out = Map::new();
            for field in &record.fields {
                let v = match (map.get(&field.name), &field.default_value, &field.default) {
                    (Some(v), _, _) => {
                        default_to_value(schema, field.node, v).map_err(|e| format!("{}: {e}", field.name))?
                    }
                    (None, Some(v), _) => v.clone(),
                    (None, None, Some(d)) => default_to_value(schema, field.node, d)?,
                    (None, None, None) => return Err(format!("missing field {:?}", field.name)),
                };
                out.insert(field.name.clone(), v);
            }
            Ok(Value::Object(out))
        }
        (Node::Array(items), Value::Array(list)) => list
            .iter()
            .map(|v| default_to_value(schema, *items, v))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (Node::Map(values), Value::Object(map)) => map
            .iter()
            .map(|(k, v)| default_to_value(schema, *values, v).map(|v| (k.clone(), v)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        _ => match validate_node(schema, id, default).into_iter().next() {
            None => Ok(default.clone()),
            Some(v) => Err(v.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_owned_value_is_normalized_as_a_borrowed_one_is() {
        let schema = crate::schema::avro_parse::parse_value(&json!({
            "type": "record", "name": "Parcel", "namespace": "post",
            "fields": [
                {"name": "id", "type": "string"},
                {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["SENT", "LOST"]}},
                {"name": "note", "type": ["null", "string"], "default": null},
                {"name": "stops", "type": {"type": "array", "items": {
                    "type": "record", "name": "Stop", "fields": [{"name": "at", "type": "long"}]}}}
            ]
        }))
        .unwrap();
        let normal = json!({"id": "p1", "status": "SENT", "note": {"string": "x"}, "stops": [{"at": 1}]});
        let reordered = json!({"status": "LOST", "id": "p2", "stops": [], "note": null});
        let missing = json!({"id": "p3", "status": "SENT", "stops": [{"at": 2}]});
        for value in [normal.clone(), reordered, missing] {
            let borrowed = normalize(&schema, &value).unwrap();
            assert_eq!(normalize_lenient(&schema, value.clone()), borrowed);
            let owned = normalize_owned(&schema, value).unwrap();
            assert_eq!(owned, borrowed);
            let keys: Vec<&String> = owned.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["id", "status", "note", "stops"]);
        }
        assert!(is_normal(&schema, schema.root(), &normal));
        let broken = json!({"id": 7, "status": "SENT", "stops": []});
        assert_eq!(normalize_lenient(&schema, broken.clone()), broken);
        assert_eq!(
            normalize_owned(&schema, broken.clone()).unwrap_err(),
            normalize(&schema, &broken).unwrap_err()
        );
    }
}

//! Field paths inside a message body, for flow specs: `metadata.createdAt`,
//! `data.subscriptions[]` (every item of an array).

use serde_json::{Map, Value};

/// The values at a path: one for a plain path, one per item below a `[]`.
pub fn get_all<'a>(body: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![body];
    for segment in path.split('.') {
        let (name, items) = match segment.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (segment, false),
        };
        let mut next = Vec::new();
        for v in current {
            let Some(field) = v.get(name).map(unwrap_union) else {
                continue;
            };
            if items {
                next.extend(field.as_array().into_iter().flatten());
            } else {
                next.push(field);
            }
        }
        current = next;
    }
    current
}

/// The single value at a path, when there is one.
pub fn get<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    get_all(body, path).into_iter().next().filter(|v| !v.is_null())
}

/// A number at a path (an Avro union-wrapped one too).
pub fn get_i64(body: &Value, path: &str) -> Option<i64> {
    get(body, path).and_then(Value::as_i64)
}

/// A value in Avro JSON encoding may be a union wrapper
/// `{"long": 5}` or `{"some.Record": {...}}`; this looks through it.
pub fn unwrap_union(v: &Value) -> &Value {
    match v {
        Value::Object(map) if is_wrapper(map) => map.values().next().unwrap_or(v),
        _ => v,
    }
}

fn is_wrapper(map: &Map<String, Value>) -> bool {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((k, inner)), None) => {
            [
                "boolean", "int", "long", "float", "double", "bytes", "string", "array", "map",
            ]
            .contains(&k.as_str())
                || (k.contains('.') && inner.is_object())
        }
        _ => false,
    }
}

/// Sets the value at a plain path, creating objects on the way. Where the
/// field already holds a union wrapper, the value goes inside it.
pub fn set(body: &mut Value, path: &str, value: Value) {
    let mut current = body;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else { return };
        let slot = map.entry(segment.to_string()).or_insert(Value::Null);
        if i + 1 == segments.len() {
            match slot {
                Value::Object(wrapper) if is_wrapper(wrapper) => {
                    if let Some(inner) = wrapper.values_mut().next() {
                        *inner = value;
                    }
                }
                _ => *slot = value,
            }
            return;
        }
        current = slot;
    }
}

/// A 64-bit SipHash fingerprint of a text: what stands for a key or an id
/// where only whether it was seen matters (the generator's used keys and
/// ids, the checker's closed flow ids and dedupe window). SipHash, not a
/// fast weak hash: in the checker a collision would be a false finding.
pub fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A value's text for ids and keys: strings bare, anything else as JSON.
pub fn text(v: &Value) -> String {
    text_ref(v).into_owned()
}

/// As [`text`], borrowing a string value instead of copying it.
pub fn text_ref(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_reach_nested_fields_items_and_union_values() {
        let body = json!({"a": {"b": 1}, "xs": [{"c": 1}, {"c": 2}], "n": {"long": 7}, "codes": ["A", "B"]});
        assert_eq!(get(&body, "a.b"), Some(&json!(1)));
        assert_eq!(get_all(&body, "xs[].c"), [&json!(1), &json!(2)]);
        assert_eq!(get_i64(&body, "n"), Some(7));
        assert_eq!(get_all(&body, "codes[]"), [&json!("A"), &json!("B")]);
        assert_eq!(get(&body, "missing.x"), None);
    }

    #[test]
    fn set_creates_objects_and_writes_inside_union_wrappers() {
        let mut body = json!({"n": {"long": 7}, "a": {}});
        set(&mut body, "n", json!(9));
        set(&mut body, "a.b.c", json!("x"));
        assert_eq!(body, json!({"n": {"long": 9}, "a": {"b": {"c": "x"}}}));
    }
}

//! Schema algebra for the JSON Schema generator: merging two schema
//! objects into their intersection, crossing lists of alternatives, and
//! negating the simple conditions `if` uses.

use serde_json::{Map, Value};

use super::json_schema::{bound, strings};
use crate::error::Diagnostic;

pub(super) type Alt = Map<String, Value>;

/// Alternatives one level may expand to.
const MAX_ALTERNATIVES: usize = 256;

fn at(spath: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message).within(format!("schema {spath}"))
}

/// Alternatives that make `schema` false, for the `properties` plus
/// `const`/`enum` patterns `if` conditions use; `None` for anything else.
pub(super) fn negate(schema: &Value) -> Option<Vec<Alt>> {
    let obj = schema.as_object()?;
    let mut out = Vec::new();
    if let Some(c) = obj.get("const") {
        let mut alt = Alt::new();
        alt.insert("x-not-enum".into(), Value::Array(vec![c.clone()]));
        out.push(alt);
    } else if let Some(Value::Array(list)) = obj.get("enum") {
        let mut alt = Alt::new();
        alt.insert("x-not-enum".into(), Value::Array(list.clone()));
        out.push(alt);
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, sub) in props {
            for inner in negate(sub)? {
                let mut alt = Alt::new();
                alt.insert(
                    "properties".into(),
                    Value::Object([(name.clone(), Value::Object(inner))].into_iter().collect()),
                );
                alt.insert("required".into(), Value::Array(vec![Value::String(name.clone())]));
                out.push(alt);
            }
        }
    }
    for r in strings(obj.get("required")) {
        let mut alt = Alt::new();
        alt.insert("x-absent".into(), Value::Array(vec![Value::String(r)]));
        out.push(alt);
    }
    let understood = obj.keys().all(|k| {
        [
            "const",
            "enum",
            "properties",
            "required",
            "type",
            "description",
            "title",
        ]
        .contains(&k.as_str())
    });
    (understood && !out.is_empty()).then_some(out)
}

/// Every merge of one alternative from `a` with one from `b`; an error when
/// all conflict.
pub(super) fn cross(a: Vec<Alt>, b: Vec<Alt>, spath: &str) -> Result<Vec<Alt>, Diagnostic> {
    let mut out = Vec::new();
    let mut conflict = None;
    for x in &a {
        for y in &b {
            match merge(x, y) {
                Ok(m) => out.push(m),
                Err(e) => {
                    conflict.get_or_insert(e);
                }
            }
            if out.len() > MAX_ALTERNATIVES {
                return Err(at(
                    spath,
                    format!("more than {MAX_ALTERNATIVES} combinations of if/anyOf/oneOf"),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(at(
            spath,
            conflict.unwrap_or_else(|| "no alternative to satisfy".into()),
        ));
    }
    Ok(out)
}

/// The intersection of two schema objects, or why there is none.
pub(super) fn merge(a: &Alt, b: &Alt) -> Result<Alt, String> {
    let mut out = a.clone();
    // Combinators both sides have are kept apart: b's move into allOf, to
    // be expanded when this level is.
    let mut carried = Vec::new();
    let conditional = ["if", "then", "else"];
    if conditional.iter().any(|k| a.contains_key(*k)) && conditional.iter().any(|k| b.contains_key(*k)) {
        carried.push(Value::Object(
            b.iter()
                .filter(|(k, _)| conditional.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ));
    }
    for k in ["anyOf", "oneOf", "not"] {
        if let (Some(_), Some(v)) = (a.get(k), b.get(k)) {
            carried.push(Value::Object([(k.to_string(), v.clone())].into_iter().collect()));
        }
    }
    if !carried.is_empty() {
        let mut list = out.get("allOf").and_then(Value::as_array).cloned().unwrap_or_default();
        list.extend(carried.iter().cloned());
        out.insert("allOf".into(), Value::Array(list));
    }
    let is_carried = |k: &str| carried.iter().any(|c| c.get(k).is_some());
    for (key, bv) in b {
        if is_carried(key) {
            continue;
        }
        let Some(av) = a.get(key) else {
            out.insert(key.clone(), bv.clone());
            continue;
        };
        let merged = match key.as_str() {
            "type" => {
                let list = |v: &Value| -> Vec<String> {
                    match v {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(l) => l.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                        _ => Vec::new(),
                    }
                };
                let (x, y) = (list(av), list(bv));
                let both: Vec<Value> = x
                    .iter()
                    .filter_map(|t| {
                        if y.contains(t) {
                            Some(t.clone())
                        } else if (t == "integer" && y.iter().any(|u| u == "number"))
                            || (t == "number" && y.iter().any(|u| u == "integer"))
                        {
                            Some("integer".into())
                        } else {
                            None
                        }
                    })
                    .map(Value::String)
                    .collect();
                if both.is_empty() {
                    return Err(format!("type {av} conflicts with type {bv}"));
                }
                Value::Array(both)
            }
            "const" if av != bv => return Err(format!("const {av} conflicts with const {bv}")),
            "enum" => {
                let y = bv.as_array().cloned().unwrap_or_default();
                let both: Vec<Value> = av
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| y.contains(v))
                    .cloned()
                    .collect();
                if both.is_empty() {
                    return Err(format!("enum {av} and enum {bv} share no value"));
                }
                Value::Array(both)
            }
            "required" | "x-not-enum" | "x-absent" => {
                let mut list = av.as_array().cloned().unwrap_or_default();
                list.extend(
                    bv.as_array()
                        .into_iter()
                        .flatten()
                        .filter(|v| !list.contains(v))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                Value::Array(list)
            }
            "properties" => {
                let mut props = av.as_object().cloned().unwrap_or_default();
                for (name, sub) in bv.as_object().into_iter().flatten() {
                    let m = match (props.get(name), sub) {
                        (Some(Value::Object(x)), Value::Object(y)) => {
                            Value::Object(merge(x, y).map_err(|e| format!("{name}: {e}"))?)
                        }
                        (Some(Value::Bool(false)), _) | (_, Value::Bool(false)) => Value::Bool(false),
                        (Some(x), Value::Bool(true)) => x.clone(),
                        _ => sub.clone(),
                    };
                    props.insert(name.clone(), m);
                }
                Value::Object(props)
            }
            "items" | "additionalProperties" => match (av, bv) {
                (Value::Object(x), Value::Object(y)) => Value::Object(merge(x, y)?),
                (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
                (x, Value::Bool(true)) => x.clone(),
                (_, y) => y.clone(),
            },
            "minimum" | "exclusiveMinimum" | "minLength" | "minItems" | "minProperties" => {
                if av.as_f64() >= bv.as_f64() {
                    av.clone()
                } else {
                    bv.clone()
                }
            }
            "maximum" | "exclusiveMaximum" | "maxLength" | "maxItems" | "maxProperties" => {
                if av.as_f64() <= bv.as_f64() {
                    av.clone()
                } else {
                    bv.clone()
                }
            }
            "allOf" => {
                let mut list = out.get("allOf").and_then(Value::as_array).cloned().unwrap_or_default();
                list.extend(bv.as_array().cloned().unwrap_or_default());
                Value::Array(list)
            }
            _ => av.clone(),
        };
        out.insert(key.clone(), merged);
    }
    check_bounds(&out)?;
    Ok(out)
}

fn check_bounds(alt: &Alt) -> Result<(), String> {
    if let (Some(c), Some(Value::Array(e))) = (alt.get("const"), alt.get("enum"))
        && !e.contains(c)
    {
        return Err(format!("const {c} is not in enum"));
    }
    if let (Some(c), Some(Value::Array(x))) = (alt.get("const"), alt.get("x-not-enum"))
        && x.contains(c)
    {
        return Err(format!("const {c} is excluded"));
    }
    for (lo, hi) in [
        ("minimum", "maximum"),
        ("minLength", "maxLength"),
        ("minItems", "maxItems"),
        ("minProperties", "maxProperties"),
    ] {
        if let (Some(l), Some(h)) = (bound(alt, lo), bound(alt, hi))
            && l > h
        {
            return Err(format!("{lo} {l} exceeds {hi} {h}"));
        }
    }
    Ok(())
}

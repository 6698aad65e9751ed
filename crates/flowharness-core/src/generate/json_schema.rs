//! proptest strategies yielding valid, realistic values for a JSON Schema.
//!
//! Each schema level is first expanded into alternatives without
//! combinators: `$ref` is resolved, `allOf` items are merged in, and every
//! `if`/`then`/`else`, `anyOf` and `oneOf` becomes a choice between merged
//! alternatives (for `else`, the `if` is negated where it is a pattern of
//! `properties` and `const`/`enum`). Conflicting merges are dropped. Each
//! alternative then generates by its keywords, with hints for realism.
//! Finally every value is checked by the real validator, so no invalid
//! value ever comes out; a schema whose values all fail is an error naming
//! the schema path, found by a trial run when the strategy is built.

use crate::num::Cast as _;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Just, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};

use super::avro::fake;
use super::fakes::{Fake, Yields};
use super::hints::{Hint, Hints};
use super::json_merge::{Alt, cross, negate};
use crate::error::{Diagnostic, Error};
use crate::schema::JsonSchema;

/// Nesting of `$ref` beyond which optional parts are left out.
const MAX_DEPTH: u32 = 6;

/// Keywords the generator satisfies, or that only annotate.
const KNOWN: &[&str] = &[
    "type",
    "const",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "items",
    "minProperties",
    "maxProperties",
    "format",
    "not",
    "x-not-enum",
    "x-absent",
    "title",
    "description",
    "examples",
    "default",
    "$comment",
    "$schema",
    "$id",
    "$defs",
    "definitions",
    "$anchor",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
];

/// A strategy of valid values for `schema`, shaped by `hints`.
pub fn strategy(schema: &Arc<JsonSchema>, hints: &Arc<Hints>) -> Result<BoxedStrategy<Value>, Error> {
    let builder = Builder {
        root: schema.json().clone(),
        hints: hints.clone(),
    };
    let raw = builder.build(schema.json(), "", "#", 0).map_err(Error::invalid)?;
    trial(schema, &raw)?;
    let validator = schema.clone();
    Ok(raw
        .prop_filter("valid against the schema", move |v| validator.validate(v).is_empty())
        .boxed())
}

/// Builds a few values; when none is valid the schema cannot be satisfied
/// by this generator, and the first violation says where.
fn trial(schema: &JsonSchema, raw: &BoxedStrategy<Value>) -> Result<(), Error> {
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[1; 32]));
    let mut first = None;
    for _ in 0..48 {
        let value = raw
            .new_tree(&mut runner)
            .map_err(|e| Error::Usage(e.to_string()))?
            .current();
        match schema.validate(&value).into_iter().next() {
            None => return Ok(()),
            Some(v) => {
                first.get_or_insert(v);
            }
        }
    }
    let v = first.map(|v| v.to_string()).unwrap_or_default();
    Err(Error::invalid(Diagnostic::new(format!(
        "the generator cannot satisfy this schema; its values break: {v}"
    ))))
}

struct Builder {
    root: Value,
    hints: Arc<Hints>,
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}

fn at(spath: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message).within(format!("schema {spath}"))
}

impl Builder {
    fn build(&self, schema: &Value, ipath: &str, spath: &str, depth: u32) -> Result<BoxedStrategy<Value>, Diagnostic> {
        let alternatives = self.expand(schema, spath, depth)?;
        let mut built = Vec::new();
        let mut first_error = None;
        for alt in &alternatives {
            match self.leaf(alt, ipath, spath, depth) {
                Ok(s) => built.push(s),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (built.len(), first_error) {
            (0, Some(e)) => Err(e),
            (0, None) => Err(at(spath, "no way to satisfy this schema")),
            (1, _) => Ok(built.pop().unwrap_or_else(|| Just(Value::Null).boxed())),
            _ => Ok(Union::new(built).boxed()),
        }
    }

    fn resolve(&self, reference: &str, spath: &str) -> Result<Value, Diagnostic> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(at(
                spath,
                format!("$ref {reference:?}: only references inside the schema (#/...) are supported"),
            ));
        };
        self.root
            .pointer(pointer)
            .cloned()
            .ok_or_else(|| at(spath, format!("$ref {reference:?} points nowhere")))
    }

    /// The alternatives of one level, every combinator merged away.
    fn expand(&self, schema: &Value, spath: &str, depth: u32) -> Result<Vec<Alt>, Diagnostic> {
        let obj = match schema {
            Value::Bool(true) => return Ok(vec![Alt::new()]),
            Value::Bool(false) => return Err(at(spath, "the schema `false` accepts nothing")),
            Value::Object(o) => o,
            other => return Err(at(spath, format!("expected a schema object, found {other}"))),
        };
        let mut base = obj.clone();
        for k in ["allOf", "anyOf", "oneOf", "if", "then", "else", "$ref"] {
            base.remove(k);
        }
        let mut alts = vec![base];
        if let Some(Value::String(r)) = obj.get("$ref") {
            if depth > MAX_DEPTH * 4 {
                return Err(at(
                    spath,
                    format!("$ref {r:?} recurses deeper than this generator follows"),
                ));
            }
            let target = self.resolve(r, spath)?;
            alts = cross(alts, self.expand(&target, r, depth + 1)?, spath)?;
        }
        if let Some(Value::Array(items)) = obj.get("allOf") {
            for (i, item) in items.iter().enumerate() {
                alts = cross(alts, self.expand(item, &format!("{spath}/allOf/{i}"), depth)?, spath)?;
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(items)) = obj.get(key) {
                let mut choices = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    // A branch that cannot be satisfied is simply not chosen.
                    if let Ok(list) = self.expand(item, &format!("{spath}/{key}/{i}"), depth) {
                        choices.extend(list);
                    }
                }
                alts = cross(alts, choices, &format!("{spath}/{key}"))?;
            }
        }
        if let Some(condition) = obj.get("if") {
            let mut choices = Vec::new();
            let then = obj.get("then").cloned().unwrap_or(Value::Bool(true));
            let otherwise = obj.get("else").cloned().unwrap_or(Value::Bool(true));
            if let Ok(when) = self.expand(condition, &format!("{spath}/if"), depth) {
                let then = self.expand(&then, &format!("{spath}/then"), depth)?;
                choices.extend(cross(when, then, spath).unwrap_or_default());
            }
            let negated = negate(condition).unwrap_or_else(|| vec![Alt::new()]);
            let otherwise = self.expand(&otherwise, &format!("{spath}/else"), depth)?;
            choices.extend(cross(negated, otherwise, spath).unwrap_or_default());
            alts = cross(alts, choices, &format!("{spath}/if"))?;
        }
        Ok(alts)
    }

    fn leaf(&self, alt: &Alt, ipath: &str, spath: &str, depth: u32) -> Result<BoxedStrategy<Value>, Diagnostic> {
        if let Some(k) = alt.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(at(spath, format!("keyword {k:?} is not supported by the generator")));
        }
        let excluded: Vec<Value> = alt
            .get("x-not-enum")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(c) = alt.get("const") {
            return if excluded.contains(c) {
                Err(at(spath, format!("const {c} is excluded")))
            } else {
                Ok(Just(c.clone()).boxed())
            };
        }
        if let Some(Value::Array(list)) = alt.get("enum") {
            let allowed: Vec<Value> = list.iter().filter(|v| !excluded.contains(v)).cloned().collect();
            if allowed.is_empty() {
                return Err(at(spath, "every enum value is excluded"));
            }
            return Ok(proptest::sample::select(allowed).boxed());
        }
        let types = types_of(alt);
        if let Some(s) = self.hinted(alt, &types, ipath, spath)? {
            return Ok(s);
        }
        let mut choices = Vec::new();
        for t in &types {
            choices.push(match t.as_str() {
                "null" => Just(Value::Null).boxed(),
                "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
                "integer" => integer(alt, spath)?,
                "number" => number(alt, spath)?,
                "string" => string(alt, ipath, spath, self.hints.now_ms)?,
                "array" => self.array(alt, ipath, spath, depth)?,
                "object" => self.object(alt, ipath, spath, depth)?,
                other => return Err(at(spath, format!("unknown type {other:?}"))),
            });
        }
        let strategy = if choices.len() == 1 {
            choices.remove(0)
        } else {
            Union::new(choices).boxed()
        };
        if excluded.is_empty() {
            Ok(strategy)
        } else {
            Ok(strategy
                .prop_filter("not an excluded value", move |v| !excluded.contains(v))
                .boxed())
        }
    }

    fn hinted(
        &self,
        alt: &Alt,
        types: &[String],
        ipath: &str,
        spath: &str,
    ) -> Result<Option<BoxedStrategy<Value>>, Diagnostic> {
        let has = |t: &str| types.iter().any(|x| x == t);
        let map_like = has("object")
            && alt.get("properties").is_none()
            && alt.get("additionalProperties").is_some_and(Value::is_object);
        for m in self.hints.lookup(ipath) {
            let strategy = match m.hint {
                Hint::Constant(v) => Some(Just(v.clone()).boxed()),
                Hint::OneOf(list) => Some(proptest::sample::select(list.clone()).boxed()),
                Hint::Regex(r) if has("string") => proptest::string::string_regex(r)
                    .ok()
                    .map(|s| s.prop_map(Value::String).boxed()),
                Hint::Range(min, max) if has("integer") => {
                    Some(((*min).sat_i64()..=(*max).sat_i64()).prop_map(Value::from).boxed())
                }
                Hint::Range(min, max) if has("number") => Some((*min..=*max).prop_map(Value::from).boxed()),
                Hint::Fake(f) => {
                    let fits = match f.yields() {
                        Yields::String => has("string") && alt.get("pattern").is_none() && alt.get("format").is_none(),
                        Yields::Integer => has("integer"),
                        Yields::Object => map_like,
                    };
                    fits.then(|| fake(f.clone(), self.hints.now_ms))
                }
                _ => None,
            };
            match strategy {
                Some(s) => return Ok(Some(s)),
                None if m.user => {
                    let path = if ipath.is_empty() { "(root)" } else { ipath };
                    return Err(at(
                        spath,
                        format!("hint {:?} does not fit {path} of type {}", m.key, types.join("|")),
                    ));
                }
                None => {}
            }
        }
        Ok(None)
    }

    fn array(&self, alt: &Alt, ipath: &str, spath: &str, depth: u32) -> Result<BoxedStrategy<Value>, Diagnostic> {
        let min = alt.get("minItems").and_then(Value::as_u64).unwrap_or(0).sat_usize();
        let deep = depth >= MAX_DEPTH;
        let max = alt
            .get("maxItems")
            .and_then(Value::as_u64)
            .map_or(if deep { min } else { min.max(1) + 2 }, |m| m.sat_usize());
        if min > max {
            return Err(at(spath, format!("minItems {min} exceeds maxItems {max}")));
        }
        let items = match alt.get("items") {
            Some(schema) => self.build(schema, &format!("{ipath}[]"), &format!("{spath}/items"), depth + 1)?,
            None => fake(Fake::Words(1, 2), 0),
        };
        let unique = alt.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
        let list = proptest::collection::vec(items, min..=max);
        Ok(if unique {
            list.prop_filter("unique items", |l| {
                l.iter().enumerate().all(|(i, a)| !l[..i].contains(a))
            })
            .prop_map(Value::Array)
            .boxed()
        } else {
            list.prop_map(Value::Array).boxed()
        })
    }

    fn object(&self, alt: &Alt, ipath: &str, spath: &str, depth: u32) -> Result<BoxedStrategy<Value>, Diagnostic> {
        let required: Vec<String> = strings(alt.get("required"));
        let absent: Vec<String> = strings(alt.get("x-absent"));
        if let Some(r) = required.iter().find(|r| absent.contains(r)) {
            return Err(at(spath, format!("property {r:?} is both required and excluded")));
        }
        let empty = Map::new();
        let properties = alt.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let deep = depth >= MAX_DEPTH;
        let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
        for (name, schema) in properties {
            if absent.contains(name) || (deep && !required.contains(name)) {
                continue;
            }
            let value = self.build(
                schema,
                &join(ipath, name),
                &format!("{spath}/properties/{name}"),
                depth + 1,
            );
            let key = name.clone();
            if required.contains(name) {
                fields.push(value?.prop_map(move |v| Some((key.clone(), v))).boxed());
            } else if let Ok(value) = value {
                // Optional properties shrink to absent.
                fields.push(proptest::option::of(value.prop_map(move |v| (key.clone(), v))).boxed());
            }
        }
        for name in required.iter().filter(|r| !properties.contains_key(*r)) {
            let key = name.clone();
            fields.push(
                fake(Fake::Words(1, 2), 0)
                    .prop_map(move |v| Some((key.clone(), v)))
                    .boxed(),
            );
        }
        let min_props = alt
            .get("minProperties")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .sat_usize();
        let extra = match alt.get("additionalProperties") {
            Some(Value::Object(_)) | None if min_props > required.len() || properties.is_empty() => {
                let schema = alt.get("additionalProperties").cloned().unwrap_or(Value::Bool(true));
                let values = self.build(
                    &schema,
                    &format!("{ipath}{{}}"),
                    &format!("{spath}/additionalProperties"),
                    depth + 1,
                )?;
                let low = min_props.saturating_sub(required.len());
                let high = if properties.is_empty() { low.max(1) + 1 } else { low };
                Some(proptest::collection::vec(("[a-z]{2,8}", values), low..=high).boxed())
            }
            _ => None,
        };
        let base = fields.prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect::<Map<String, Value>>()));
        Ok(match extra {
            None => base.boxed(),
            Some(extra) => (base, extra)
                .prop_map(|(mut obj, extra)| {
                    if let Value::Object(map) = &mut obj {
                        for (k, v) in extra {
                            map.entry(k).or_insert(v);
                        }
                    }
                    obj
                })
                .boxed(),
        })
    }
}

pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn types_of(alt: &Alt) -> Vec<String> {
    match alt.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ if alt.contains_key("properties")
            || alt.contains_key("required")
            || alt.contains_key("additionalProperties") =>
        {
            vec!["object".into()]
        }
        _ if alt.contains_key("items") || alt.contains_key("minItems") => vec!["array".into()],
        _ if alt.contains_key("minimum") || alt.contains_key("maximum") => vec!["number".into()],
        _ => vec!["string".into()],
    }
}

pub(super) fn bound(alt: &Alt, key: &str) -> Option<f64> {
    alt.get(key).and_then(Value::as_f64)
}

fn integer(alt: &Alt, spath: &str) -> Result<BoxedStrategy<Value>, Diagnostic> {
    let low = bound(alt, "minimum")
        .map(|m| m.ceil().sat_i64())
        .or(bound(alt, "exclusiveMinimum").map(|m| m.floor().sat_i64() + 1));
    let high = bound(alt, "maximum")
        .map(|m| m.floor().sat_i64())
        .or(bound(alt, "exclusiveMaximum").map(|m| m.ceil().sat_i64() - 1));
    let (low, high) = match (low, high) {
        (Some(l), Some(h)) => (l, h),
        (Some(l), None) => (l, l.saturating_add(100)),
        (None, Some(h)) => (h.saturating_sub(100), h),
        (None, None) => (0, 1000),
    };
    if low > high {
        return Err(at(spath, format!("no integer between {low} and {high}")));
    }
    match alt.get("multipleOf").and_then(Value::as_i64).filter(|m| *m > 0) {
        Some(step) => {
            let (first, last) = (
                low.div_euclid(step) + i64::from(low.rem_euclid(step) != 0),
                high.div_euclid(step),
            );
            if first > last {
                return Err(at(spath, format!("no multiple of {step} between {low} and {high}")));
            }
            Ok((first..=last).prop_map(move |k| Value::from(k * step)).boxed())
        }
        None => Ok((low..=high).prop_map(Value::from).boxed()),
    }
}

fn number(alt: &Alt, spath: &str) -> Result<BoxedStrategy<Value>, Diagnostic> {
    let low = bound(alt, "minimum")
        .or(bound(alt, "exclusiveMinimum").map(|m| m + 1e-6))
        .unwrap_or(0.0);
    let high = bound(alt, "maximum")
        .or(bound(alt, "exclusiveMaximum").map(|m| m - 1e-6))
        .unwrap_or(low + 1000.0);
    if low > high {
        return Err(at(spath, format!("no number between {low} and {high}")));
    }
    Ok((low..=high)
        .prop_map(|f| Value::from((f * 100.0).round() / 100.0))
        .boxed())
}

fn string(alt: &Alt, ipath: &str, spath: &str, now_ms: i64) -> Result<BoxedStrategy<Value>, Diagnostic> {
    let min = alt.get("minLength").and_then(Value::as_u64).unwrap_or(0).sat_usize();
    let max = alt.get("maxLength").and_then(Value::as_u64).map(|m| m.sat_usize());
    if max.is_some_and(|m| m < min) {
        return Err(at(
            spath,
            format!("minLength {min} exceeds maxLength {}", max.unwrap_or(0)),
        ));
    }
    if let Some(Value::String(p)) = alt.get("pattern") {
        // Patterns match anywhere; a match of the unanchored body is a match.
        let body = p.strip_prefix('^').unwrap_or(p);
        let body = match body.strip_suffix('$') {
            Some(b) if !b.ends_with('\\') => b,
            _ => body,
        };
        let s = proptest::string::string_regex(body).map_err(|e| {
            at(
                &format!("{spath}/pattern"),
                format!("pattern {p:?} is not supported by the generator: {e}"),
            )
        })?;
        return Ok(s.prop_map(Value::String).boxed());
    }
    let by_format = match alt.get("format").and_then(Value::as_str) {
        Some("uuid") => Some(Fake::Uuid),
        Some("email") => Some(Fake::Email),
        Some("date-time" | "date") => None,
        _ => None,
    };
    if let Some(f) = by_format {
        return Ok(fake(f, now_ms));
    }
    if let Some(format @ ("date-time" | "date")) = alt.get("format").and_then(Value::as_str) {
        let date_only = format == "date";
        return Ok(fake(Fake::TimestampMillis(30), now_ms)
            .prop_map(move |v| {
                let ms = v.as_i64().unwrap_or(0);
                let date = super::time::format_date(ms);
                if date_only {
                    Value::String(date)
                } else {
                    let secs = ms.rem_euclid(86_400_000) / 1000;
                    Value::String(format!(
                        "{date}T{:02}:{:02}:{:02}Z",
                        secs / 3600,
                        secs / 60 % 60,
                        secs % 60
                    ))
                }
            })
            .boxed());
    }
    let _ = ipath;
    Ok(fake(Fake::Words(1, 3), now_ms)
        .prop_map(move |v| {
            let mut s = v.as_str().unwrap_or_default().to_string();
            while s.chars().count() < min {
                s.push_str(" lorem");
            }
            if let Some(max) = max {
                s = s.chars().take(max).collect();
            }
            Value::String(s)
        })
        .boxed())
}

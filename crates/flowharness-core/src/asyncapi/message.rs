//! One AsyncAPI message: its traits merged, its payload schema (Avro,
//! JSON Schema or AsyncAPI's dialect) inlined and parsed, its Kafka
//! binding, correlation id and examples.

use serde_json::{Map, Value};

use super::document::{Files, Place, unescape};
use super::model::{Correlation, Example, Format, Message};
use crate::error::Result;
use crate::schema::{Schema, avro_parse, json_schema::JsonSchema};

/// Message fields after its traits: each trait in order, then the
/// message's own fields, which win.
fn with_traits(files: &mut Files, message: &Value, place: &Place) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    if let Some(traits) = message.get("traits").and_then(Value::as_array) {
        for (i, t) in traits.iter().enumerate() {
            let (t, _) = files.deref(t.clone(), place.child("traits").child(&i.to_string()))?;
            if let Some(obj) = t.as_object() {
                for (k, v) in obj {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(obj) = message.as_object() {
        for (k, v) in obj {
            if k != "traits" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

pub(super) fn read_message(files: &mut Files, message: Value, place: Place, key: Option<&str>) -> Result<Message> {
    let (message, place) = files.deref(message, place)?;
    let fields = with_traits(files, &message, &place)?;
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| key.map(str::to_string))
        .or_else(|| place.pointer.rsplit('/').next().map(str::to_string))
        .unwrap_or_else(|| "message".to_string());
    let Some(payload) = fields.get("payload") else {
        return Err(place.error("a message with no payload"));
    };
    // 3.0: a Multi Format Schema Object carries its own schemaFormat.
    let (format_text, raw, payload_place) = match (payload.get("schemaFormat"), payload.get("schema")) {
        (Some(Value::String(f)), Some(schema)) => {
            (Some(f.clone()), schema.clone(), place.child("payload").child("schema"))
        }
        _ => (
            fields.get("schemaFormat").and_then(Value::as_str).map(str::to_string),
            payload.clone(),
            place.child("payload"),
        ),
    };
    let format = format_of(format_text.as_deref(), &place)?;
    let mut inlined = files.inline(&raw, &payload_place)?;
    let schema = match format {
        Format::Avro => avro_parse::parse_value(&inlined).map(Schema::Avro),
        Format::JsonSchema => {
            if let Value::Object(map) = &mut inlined
                && !map.contains_key("$schema")
                && format_text.as_deref().is_none_or(|f| !f.contains("2020-12"))
            {
                map.insert(
                    "$schema".to_string(),
                    Value::String("http://json-schema.org/draft-07/schema#".to_string()),
                );
            }
            JsonSchema::from_value(inlined.clone()).map(Schema::Json)
        }
    }
    .map_err(|e| e.within(&payload_place.name()))?;
    let bindings = fields.get("bindings").and_then(|b| b.get("kafka"));
    let key_schema = match bindings.and_then(|k| k.get("key")) {
        Some(k) => Some(files.inline(k, &place.child("bindings").child("kafka").child("key"))?),
        None => None,
    };
    let text_of = |k: &str| {
        bindings
            .and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let correlation = match fields.get("correlationId") {
        Some(c) => Some(correlation_of(files, c, &place.child("correlationId"), &schema)?),
        None => None,
    };
    let mut examples = Vec::new();
    if let Some(list) = fields.get("examples").and_then(Value::as_array) {
        for (i, e) in list.iter().enumerate() {
            let ex_place = place.child("examples").child(&i.to_string());
            let Some(payload) = e.get("payload") else { continue };
            let violations = schema.validate(payload);
            if let Some(v) = violations.first() {
                return Err(ex_place
                    .child("payload")
                    .error(format!("example does not match the payload schema: {v}")));
            }
            examples.push(Example {
                name: e.get("name").and_then(Value::as_str).map(str::to_string),
                place: ex_place,
                payload: payload.clone(),
                headers: e.get("headers").and_then(Value::as_object).cloned().unwrap_or_default(),
            });
        }
    }
    Ok(Message {
        name,
        format,
        payload: inlined,
        schema,
        key: key_schema,
        correlation,
        schema_id_location: text_of("schemaIdLocation"),
        schema_lookup: text_of("schemaLookupStrategy"),
        examples,
        place,
    })
}

/// The payload format a `schemaFormat` names (none: AsyncAPI's own).
fn format_of(text: Option<&str>, place: &Place) -> Result<Format> {
    let Some(text) = text else {
        return Ok(Format::JsonSchema);
    };
    let media = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/vnd.apache.avro" | "application/vnd.apache.avro+json" | "application/vnd.apache.avro+yaml" => {
            Ok(Format::Avro)
        }
        "application/schema+json" | "application/schema+yaml" => Ok(Format::JsonSchema),
        "application/vnd.aai.asyncapi" | "application/vnd.aai.asyncapi+json" | "application/vnd.aai.asyncapi+yaml" => {
            Ok(Format::JsonSchema)
        }
        _ => Err(place.child("schemaFormat").error(format!(
            "unsupported schemaFormat {text:?}: flowharness reads Avro, JSON Schema and AsyncAPI schemas"
        ))),
    }
}

/// A correlation id's location as a payload path or a header name;
/// a payload location must name a field the schema has.
fn correlation_of(files: &mut Files, value: &Value, place: &Place, schema: &Schema) -> Result<(Correlation, Place)> {
    let (value, place) = files.deref(value.clone(), place.clone())?;
    let Some(location) = value.get("location").and_then(Value::as_str) else {
        return Err(place.error("a correlationId needs a location"));
    };
    let bad = |why: &str| {
        place
            .child("location")
            .error(format!("correlationId location {location:?} {why}"))
    };
    let (source, pointer) = location
        .split_once('#')
        .ok_or_else(|| bad("has no #: expected $message.payload#/path or $message.header#/name"))?;
    let segments: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(unescape)
        .collect();
    if segments.is_empty() {
        return Err(bad("points at the whole message, not a field"));
    }
    let correlation = match source {
        "$message.payload" => {
            if !schema_has_path(schema, &segments) {
                return Err(bad("points nowhere: the payload schema has no such field"));
            }
            Correlation::Payload(segments.join("."))
        }
        "$message.header" => Correlation::Header(segments.join(".")),
        _ => return Err(bad("must start with $message.payload or $message.header")),
    };
    Ok((correlation, place))
}

/// Whether a schema declares a field path (records' fields or
/// `properties`, looking through unions, `allOf`/`oneOf`/`anyOf`).
fn schema_has_path(schema: &Schema, segments: &[String]) -> bool {
    fn json_has(node: &Value, segments: &[String]) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return true;
        };
        let direct = node
            .get("properties")
            .and_then(|p| p.get(first))
            .is_some_and(|child| json_has(child, rest));
        direct
            || ["allOf", "oneOf", "anyOf"].iter().any(|k| {
                node.get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|list| list.iter().any(|n| json_has(n, segments)))
            })
            || ["then", "else"]
                .iter()
                .any(|k| node.get(*k).is_some_and(|n| json_has(n, segments)))
    }
    fn avro_has(node: &Value, segments: &[String]) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return true;
        };
        match node {
            Value::Array(branches) => branches.iter().any(|b| avro_has(b, segments)),
            Value::Object(map) => match map.get("type") {
                Some(Value::String(t)) if t == "record" || t == "error" => {
                    map.get("fields").and_then(Value::as_array).is_some_and(|fields| {
                        fields.iter().any(|f| {
                            f.get("name").and_then(Value::as_str) == Some(first)
                                && f.get("type").is_some_and(|t| avro_has(t, rest))
                        })
                    })
                }
                Some(inner @ (Value::Object(_) | Value::Array(_))) => avro_has(inner, segments),
                _ => false,
            },
            // A named type referred to by name: accept (its fields are
            // defined elsewhere in the schema).
            Value::String(_) => true,
            _ => false,
        }
    }
    match schema {
        Schema::Avro(_) => avro_has(schema.json(), segments),
        Schema::Json(_) | Schema::Protobuf(_) => json_has(schema.json(), segments),
    }
}

//! Contracts: Avro schemas (our own model and parser), JSON Schemas and
//! Protobuf messages (`.proto`, compiled in-process), loaded from files,
//! plus Avro schema compatibility.

pub mod avro;
pub mod avro_parse;
pub mod avro_write;
pub mod compat;
pub mod json_schema;
pub mod path;
pub mod protobuf;
pub mod protobuf_compat;
#[cfg(test)]
mod protobuf_compat_tests;

use std::path::Path;

use serde_json::Value;

pub use avro::AvroSchema;
pub use json_schema::JsonSchema;
pub use protobuf::ProtoSchema;

use crate::codec::avro_json;
use crate::error::{Result, parse_json, read_to_string};
use path::Violation;

/// A contract for message values.
#[derive(Debug, Clone)]
pub enum Schema {
    Avro(AvroSchema),
    Json(JsonSchema),
    /// A message of a `.proto` file; its values are proto3 JSON, and a
    /// JSON Schema derived from it does what a JSON Schema does for JSON.
    Protobuf(Box<ProtoSchema>),
}

impl Schema {
    /// Parses a schema document, telling Avro from JSON Schema by its
    /// content: a JSON Schema has `$schema`, `properties` or no Avro `type`.
    pub fn from_value(json: &Value) -> Result<Schema> {
        if is_json_schema(json) {
            Ok(Schema::Json(JsonSchema::from_value(json.clone())?))
        } else {
            Ok(Schema::Avro(avro_parse::parse_value(json)?))
        }
    }

    /// Loads a schema file; every error names the file.
    pub fn load(path: &Path) -> Result<Schema> {
        if path.extension().is_some_and(|e| e == "proto") {
            return ProtoSchema::load(path).map(|p| Schema::Protobuf(Box::new(p)));
        }
        let place = path.display().to_string();
        let text = read_to_string(path)?;
        let json = parse_json(&text).map_err(|e| e.within(&place))?;
        let forced_avro = path.extension().is_some_and(|e| e == "avsc");
        let parsed = if forced_avro {
            avro_parse::parse_value(&json).map(Schema::Avro)
        } else {
            Schema::from_value(&json)
        };
        parsed.map_err(|e| e.within(&place))
    }

    /// Every violation of a value (Avro JSON encoding for Avro schemas).
    pub fn validate(&self, value: &Value) -> Vec<Violation> {
        match self {
            Schema::Avro(s) => avro_json::validate(s, value),
            Schema::Json(s) => s.validate(value),
            Schema::Protobuf(s) => s.validate(value),
        }
    }

    /// The schema as JSON: Avro's own, a JSON Schema, or for Protobuf the
    /// JSON Schema derived from its message.
    pub fn json(&self) -> &Value {
        match self {
            Schema::Avro(s) => s.json(),
            Schema::Json(s) => s.json(),
            Schema::Protobuf(s) => s.json(),
        }
    }

    /// The JSON Schema that generation and field paths use: the schema
    /// itself, or the one derived from a Protobuf message.
    pub fn as_json_schema(&self) -> Option<&JsonSchema> {
        match self {
            Schema::Avro(_) => None,
            Schema::Json(s) => Some(s),
            Schema::Protobuf(s) => Some(s.json_schema()),
        }
    }

    /// The text a registry holds: the JSON, or the `.proto` source.
    pub fn text(&self) -> String {
        match self {
            Schema::Protobuf(s) => s.file().source.clone(),
            other => other.json().to_string(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Schema::Avro(_) => "AVRO",
            Schema::Json(_) => "JSON",
            Schema::Protobuf(_) => "PROTOBUF",
        }
    }
}

/// Keywords only JSON Schema has.
const JSON_SCHEMA_KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "definitions",
    "properties",
    "required",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "const",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "patternProperties",
];

fn is_json_schema(json: &Value) -> bool {
    match json {
        Value::Bool(_) => true,
        Value::Object(obj) => {
            JSON_SCHEMA_KEYWORDS.iter().any(|k| obj.contains_key(*k))
                || matches!(
                    obj.get("type").and_then(Value::as_str),
                    Some("object" | "integer" | "number")
                )
                || matches!(obj.get("type"), Some(Value::Array(types)) if types.iter().any(|t| t == "object" || t == "integer" || t == "number"))
                || (obj.get("type").is_some_and(|t| t == "array")
                    && obj.get("items").is_some_and(|i| i.is_object() && is_json_schema(i)))
        }
        // Strings and arrays are Avro type names and unions.
        _ => false,
    }
}

//! Codecs: Avro binary and Avro JSON, schema-directed; Confluent framing;
//! field paths for violations.

pub mod avro_json;
pub mod binary;
pub mod confluent;
pub mod path;
pub mod plan;

pub use path::{FieldPath, Violation};

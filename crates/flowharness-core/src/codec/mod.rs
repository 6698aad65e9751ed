//! Codecs: Avro binary and Avro JSON, schema-directed; Protobuf (Confluent's
//! message indexes, proto3 JSON); Confluent framing;
//! field paths for violations.

pub mod avro_json;
pub mod binary;
pub mod confluent;
pub mod path;
pub mod plan;
pub mod protobuf;

pub use path::{FieldPath, Violation};

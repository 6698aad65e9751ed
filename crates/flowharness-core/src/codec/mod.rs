//! Codecs: Avro binary and Avro JSON, schema-directed; Protobuf (Confluent's
//! message indexes, proto3 JSON); Confluent framing;
//! field paths for violations.

pub mod avro_json;
pub mod binary;
pub mod confluent;
pub mod plan;
pub mod protobuf;

// Field paths and violations are the schema's (it validates); the codecs
// report with them too.
pub use crate::schema::path;
pub use path::{FieldPath, Violation};

//! Generators: seeded proptest strategies yielding valid, realistic values
//! from Avro schemas and JSON Schemas, shaped by hints.

pub mod avro;
pub mod avro_sampler;
pub mod fakes;
pub mod hints;
mod json_merge;
pub mod json_schema;
pub mod rows;
pub mod sample;
pub mod time;

//! Generators: proptest strategies that yield valid values from schemas.

pub mod avro;

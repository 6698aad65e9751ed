//! flowharness's contracts core: everything that needs no broker, no
//! registry and no async runtime. The modules follow the pipeline:
//! [`schema`] (Avro, JSON Schema, Protobuf, compatibility) → [`codec`]
//! (Avro binary and JSON, Confluent framing, Protobuf wire) → [`generate`]
//! (realistic values) → [`fixture`] (the seed's format and fixture lines)
//! → [`flow`] (specs, the generator, the streaming checker), with
//! [`asyncapi`] and [`contract`] reading contracts from documents and
//! [`report`] writing check results (JUnit XML, SVG charts).
//!
//! The `flowharness` crate builds the Kafka runtime, the BDD runner and
//! the binary on this one and re-exports its modules under the same names.

pub mod asyncapi;
pub mod codec;
pub mod contract;
pub mod error;
pub mod fixture;
pub mod fixture_lines;
pub mod fixture_writer;
pub mod flow;
pub mod generate;
pub mod num;
pub mod report;
pub mod schema;

pub use error::{Diagnostic, Error, Result};

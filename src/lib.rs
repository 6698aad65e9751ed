//! flowharness: contract testing and fake producing for Kafka event flows.
//!
//! The contracts core (schema, codec, generate, fixture, flow, asyncapi,
//! report) is the crate `flowharness-core`, and the Kafka runtime on it
//! (registry, kafka, verify, load, fake, hunt, service, harness) the crate
//! `flowharness-kafka`; both are re-exported here under their module
//! names. This crate adds the BDD runner (bdd) and the CLI (cli).

pub mod cli;

/// The BDD runner behind `flowharness test` (the crate `flowharness-bdd`).
pub use flowharness_bdd as bdd;

// The contracts core and the Kafka runtime, under the names the rest of the
// crate and its users have always used.
pub use flowharness_kafka::{fake, harness, hunt, kafka, load, registry, service, verify};

pub use flowharness_core::{
    Diagnostic, Error, Result, asyncapi, codec, contract, error, fixture, fixture_lines, fixture_writer, flow,
    generate, num, report, schema,
};

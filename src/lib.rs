//! flowharness: contract testing and fake producing for Kafka event flows.
//!
//! The contracts core (schema, codec, generate, fixture, flow, asyncapi,
//! report) is the crate `flowharness-core`, re-exported here under its
//! module names; this crate adds the runtime on it (registry, kafka,
//! verify, load, fake, hunt, service, harness), then the BDD runner (bdd)
//! and the CLI (cli).

pub mod bdd;
pub mod cli;
pub mod fake;
#[deny(missing_docs)]
pub mod harness;
pub mod hunt;
pub mod kafka;
pub mod load;
pub mod registry;
pub mod service;
pub mod verify;

// The contracts core, under the names the rest of the crate and its users
// have always used.
pub use flowharness_core::{
    Diagnostic, Error, Result, asyncapi, codec, contract, error, fixture, fixture_lines, fixture_writer, flow,
    generate, report, schema,
};

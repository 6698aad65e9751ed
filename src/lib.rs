//! flowharness: contract testing and fake producing for Kafka event flows.
//!
//! The modules follow the pipeline: [`schema`] → [`codec`] → [`fixture`].
//! Each later stage (generate, flow, registry, kafka, bdd, load, verify,
//! report) builds on these.

pub mod asyncapi;
pub mod bdd;
pub mod cli;
pub mod codec;
pub mod contract;
pub mod error;
pub mod fake;
pub mod fixture;
pub mod fixture_lines;
pub mod fixture_writer;
pub mod flow;
pub mod generate;
#[deny(missing_docs)]
pub mod harness;
pub mod hunt;
pub mod kafka;
pub mod load;
pub mod registry;
pub mod report;
pub mod schema;
pub mod service;
pub mod verify;

pub use error::{Diagnostic, Error, Result};

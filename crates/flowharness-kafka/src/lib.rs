//! flowharness's Kafka runtime, on the contracts core: the embedded
//! Confluent-compatible registry ([`registry`]) and Kafka-protocol broker
//! ([`kafka`], tansu in-process, or an external cluster, or
//! testcontainers), producing and observing with exact accounting
//! ([`verify`]), load at a controlled rate ([`load`]), fakes that answer
//! ([`fake`]), shrinking hunts against a live consumer ([`hunt`]), services
//! under test ([`service`]) and the library API for Rust test suites
//! ([`harness`]).
//!
//! The core's modules are re-exported under their own names, so paths
//! read as one library (`flowharness_kafka::flow::FlowSpec`).

pub mod fake;
#[deny(missing_docs)]
pub mod harness;
pub mod hunt;
pub mod kafka;
pub mod load;
pub mod registry;
pub mod service;
pub mod verify;

pub use flowharness_core::{
    Diagnostic, Error, Result, asyncapi, codec, contract, error, fixture, fixture_lines, fixture_writer, flow,
    generate, num, report, schema,
};

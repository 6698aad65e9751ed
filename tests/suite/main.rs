//! The integration tests, one binary: each file is a module of it. One
//! binary links rdkafka, tansu and cucumber once, not once per file (30
//! copies of about 200 MB each filled a CI machine's disk). The memory
//! tests (`fixture_memory`, `generate_memory`) stay binaries of their own,
//! since they read their process's peak memory, and `features` runs
//! cucumber's own harness.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "the integration tests: an unwrap that fails is a failed test, with its message; casts size test data"
)]

#[path = "../common/mod.rs"]
mod common;

mod asyncapi;
mod bdd_cli;
mod cli;
mod cli_kafka;
mod codec_migration;
mod codec_properties;
mod compat;
mod cross_topic;
mod deploy_files;
mod docker_files;
mod docker_tier;
mod fake;
mod fixtures;
mod flow_designs;
mod flows;
mod generate;
mod golden_reports;
mod hunt;
mod kafka_embedded;
mod load;
mod no_panics;
mod protobuf;
mod record_states;
mod registry_api;
mod reliability;
mod report_html;
mod scale_out;
mod schemas;
mod soak;
mod stamps;

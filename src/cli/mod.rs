//! The command line: clap definitions, and the commands that run them.
//! `main.rs` only parses and calls [`run`].

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use commands::run;

/// Contract-testing harness and fake producer for Kafka event flows.
#[derive(Debug, Parser)]
#[command(name = "flowharness", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check schema files, and schema evolution.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Check fixture files.
    #[command(subcommand)]
    Fixture(FixtureCommand),
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Parse Avro (.avsc) and JSON Schema files and report every problem;
    /// a JSON Schema's own `examples` are validated against it.
    Validate {
        /// Schema files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check that a new Avro schema is compatible with earlier versions,
    /// with Confluent's semantics. Exit 0 compatible, 1 not, 2 bad input.
    Compat {
        /// Earlier versions, oldest first (repeat for transitive modes).
        #[arg(long = "old", required = true)]
        old: Vec<PathBuf>,
        /// The new version.
        #[arg(long)]
        new: PathBuf,
        /// none, backward, forward, full, backward-transitive,
        /// forward-transitive or full-transitive.
        #[arg(long, default_value = "backward")]
        mode: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FixtureCommand {
    /// Load fixture files, validating every message against its schema.
    /// Exit 0 when clean, 2 with one error per problem.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

//! The command line: clap definitions, and the commands that run them.
//! `main.rs` only parses and calls [`run`].

mod commands;
mod flows;
mod sample;

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
    /// Print valid, realistic values of a schema, one per line.
    Sample(SampleArgs),
    /// Generate interleaved flows of a flow spec into a fixture file.
    Generate(GenerateArgs),
    /// Check messages against a flow contract. Exit 0 clean, 1 violations, 2 bad input.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A shipped flow (account-migration, subscription-catalog) or a spec file.
    #[arg(long)]
    pub flow: String,
    /// How many flows (keys); cancelled and rolled-back flows add their restart.
    #[arg(long, default_value_t = 10)]
    pub flows: usize,
    /// Path weights, e.g. happy=80,cancel=15,rollback=5 (default: every path alike).
    #[arg(long)]
    pub mix: Option<String>,
    /// Where to write the fixture file (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Fraction (0-1) of each timing window that event times may wander.
    #[arg(long, default_value_t = 0.5)]
    pub jitter: f64,
    /// Compress time by this factor (86400 turns a day into a second).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    #[command(flatten)]
    pub generate: GenerateOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IncompleteLevel {
    Warning,
    Error,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A fixture file to check offline, without a broker.
    #[arg(long)]
    pub file: PathBuf,
    /// A shipped flow or a spec file.
    #[arg(long)]
    pub flow: String,
    /// How to count flows left incomplete at the end (default: as the spec says).
    #[arg(long, value_enum)]
    pub incomplete: Option<IncompleteLevel>,
    /// Timing rules are divided by this (for time-compressed runs).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
}

/// Options shared by every command that generates data.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateOptions {
    /// Seed for reproducible output; printed on stderr when not given.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hint file (TOML): field path to generator, constant, regex, range or one_of.
    #[arg(long)]
    pub hints: Option<PathBuf>,
    /// The "now" that dates and timestamps are generated around:
    /// YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or epoch milliseconds. Default: the
    /// start of today (UTC), so one seed gives one output all day.
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFormat {
    /// Avro JSON encoding (plain JSON for JSON Schemas).
    Json,
    /// The Avro binary datum, hex-encoded.
    Binary,
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Avro (.avsc) or JSON Schema file.
    #[arg(long)]
    pub schema: PathBuf,
    /// How many values.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Only this branch of the schema's unions (short or full name).
    #[arg(long)]
    pub branch: Option<String>,
    #[arg(long, value_enum, default_value_t = SampleFormat::Json)]
    pub format: SampleFormat,
    /// With --format binary, frame each datum for Confluent with this schema id.
    #[arg(long)]
    pub schema_id: Option<u32>,
    #[command(flatten)]
    pub generate: GenerateOptions,
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

//! The command line: clap definitions, and the commands that run them.
//! `main.rs` only parses and calls [`run`].

mod asyncapi;
mod commands;
pub mod fake;
mod flows;
mod hunt;
mod interrupt;
mod kafka;
mod load;
mod sample;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use commands::{run, run_on_terminal};
pub use load::{BenchArgs, LoadArgs, ReportCommand};

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
    /// Check messages against a flow contract: a fixture file offline, or
    /// a topic on a broker. Exit 0 clean, 1 violations, 2 bad input or connection.
    Verify(VerifyArgs),
    /// Start the embedded broker and schema registry and keep them up.
    Up(UpArgs),
    /// Run the embedded Kafka-protocol broker alone (for a container).
    Broker(BrokerArgs),
    /// Run the embedded Confluent-compatible schema registry alone (for a
    /// container).
    Registry(RegistryArgs),
    /// Produce generated flows (or a fixture file), read them back, and check
    /// them. Exit 1 on failures, violations, lost or duplicated messages.
    Produce(ProduceArgs),
    /// Synthetic flows at a controlled rate, with latency figures and a
    /// report. Exit 1 on failures, loss, violations or a breached SLO, 130
    /// when interrupted.
    Load(Box<LoadArgs>),
    /// Is the harness ever the bottleneck? Raw rdkafka against `load` on
    /// the same broker, the harness alone, and memory per account in flight.
    Bench(BenchArgs),
    /// Work with load reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Run Gherkin feature files with the built-in step library.
    Test(TestArgs),
    /// Hunt for the smallest flow set that breaks a consumer: random
    /// trials against it, each on a fresh topic and group, and the first
    /// failure shrunk against it. Exit 0 no failure, 1 a failure found.
    Hunt(Box<HuntArgs>),
    /// A fake upstream that answers: reads requests, replies with the
    /// flow's continuation (copied ids, delays, planned faults), and
    /// accounts for every request. Exit 0 clean, 1 findings.
    Fake(Box<fake::FakeArgs>),
    /// Print the step library, one step and an example a line.
    Steps,
    /// AsyncAPI 2.x/3.0 documents: check one, write its overlay, or
    /// export a flow spec as AsyncAPI 3.0.
    #[command(subcommand)]
    Asyncapi(AsyncapiCommand),
}

#[derive(Debug, Subcommand)]
pub enum AsyncapiCommand {
    /// Read a document (and its overlay, if any): print its channels,
    /// messages, correlation ids and operations. Exit 0, 2 on problems.
    Check {
        /// The AsyncAPI document (YAML or JSON).
        doc: PathBuf,
    },
    /// Write a first overlay for a document (`DOC.flowharness.toml`
    /// beside it): states from its messages, the flow id from its
    /// correlationId, transitions to check.
    Init {
        /// The AsyncAPI document (YAML or JSON).
        doc: PathBuf,
        /// Where to write it (`-` for standard output).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// Overwrite an existing overlay.
        #[arg(long)]
        force: bool,
    },
    /// A flow spec as an AsyncAPI 3.0 document, its flow tables as
    /// `x-flowharness`.
    Export {
        /// A shipped flow, a spec file or an AsyncAPI document.
        #[arg(long)]
        flow: String,
        /// Where to write it (default: standard output).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// yaml or json (default: by the --out extension, else yaml).
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Feature files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write Cucumber JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only scenarios whose tags match, e.g. "@happy and not @negative".
    #[arg(long)]
    pub tags: Option<String>,
    /// The run's seed; each scenario's seed derives from it and the
    /// scenario's place, and is printed with what it generated.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Scenarios run at once (each has its own topic).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Save each failing scenario here as a replay: a fixture of what it
    /// produced and a feature file that fails the same way (default for
    /// hunts: flowharness-failures in the temporary folder).
    #[arg(long)]
    pub save_failures: Option<PathBuf>,
    /// (KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL name external ones.)
    #[command(flatten)]
    pub containers: ContainerArgs,
}

/// Where the broker and registry are.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// External Kafka brokers, host:port[,...]; default: the embedded broker.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// A librdkafka property, key=value (repeat), e.g. -X security.protocol=SASL_SSL.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// A file of librdkafka properties, one key=value a line.
    #[arg(long)]
    pub properties: Option<PathBuf>,
    /// External schema registry URL; default: the embedded registry. Its
    /// value is never shown: the URL may carry credentials.
    #[arg(long, env = "SCHEMA_REGISTRY_URL", hide_env_values = true)]
    pub registry_url: Option<String>,
    /// Registry basic auth, user:password.
    #[arg(long, env = "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", hide_env_values = true)]
    pub registry_auth: Option<String>,
    /// Bound on connecting and on each request.
    #[arg(long, default_value = "10s")]
    pub connect_timeout: String,
    /// Address the embedded broker and registry listen on (default 127.0.0.1).
    #[arg(long)]
    pub listen: Option<std::net::IpAddr>,
    /// What the embedded broker keeps in memory: a size, an age or both
    /// (`512MiB`, `30m`, `1GiB,1h`), the oldest records going first; `none`
    /// keeps all. Default 1GiB,1h.
    #[arg(long)]
    pub retention: Option<String>,
    #[command(flatten)]
    pub containers: ContainerArgs,
}

/// Where the broker runs when no external one is named.
#[derive(Debug, Clone, clap::Args)]
pub struct ContainerArgs {
    /// Where the broker runs when no --bootstrap-servers is given: in
    /// process, or in a container (Docker).
    #[arg(long, value_enum, default_value = "embedded")]
    pub broker: BrokerKind,
    /// With --broker testcontainers: the broker image, NAME:TAG (default
    /// apache/kafka:3.8.0; an image named flowharness runs `flowharness broker`).
    #[arg(long)]
    pub broker_image: Option<String>,
    /// With --broker testcontainers: the registry image (default
    /// confluentinc/cp-schema-registry:7.7.1; an image named flowharness
    /// runs `flowharness registry`).
    #[arg(long)]
    pub registry_image: Option<String>,
    /// With --broker testcontainers: keep the embedded registry.
    #[arg(long)]
    pub embedded_registry: bool,
}

impl ContainerArgs {
    /// What to start in containers, with `--broker testcontainers`; the
    /// containers are then removed on Ctrl-C too.
    pub fn options(&self) -> Option<crate::kafka::containers::ContainerOptions> {
        (self.broker == BrokerKind::Testcontainers).then(|| {
            interrupt::watch();
            crate::kafka::containers::ContainerOptions {
                broker_image: self.broker_image.clone(),
                registry_image: self.registry_image.clone(),
                embedded_registry: self.embedded_registry,
                timeout: None,
            }
        })
    }
}

/// Where the broker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BrokerKind {
    #[default]
    Embedded,
    Testcontainers,
}

#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: std::net::SocketAddr,
    /// host:port clients are told to connect to (default: the listening
    /// address; in a container, the address its port is mapped to).
    #[arg(long)]
    pub advertised_listener: Option<String>,
    /// What it keeps in memory: a size, an age or both (`512MiB`, `30m`,
    /// `1GiB,1h`), the oldest records going first; `none` keeps all.
    /// Default 1GiB,1h.
    #[arg(long)]
    pub retention: Option<String>,
    /// Keep topics, records and offsets in this directory (tansu's sqlite
    /// engine) so they survive a restart.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Topics to create, NAME or NAME:PARTITIONS (repeat).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long = "for")]
    pub run_for: Option<String>,
    /// A fixed port for the broker (default: a free one).
    #[arg(long)]
    pub broker_port: Option<u16>,
    /// A fixed port for the registry (default: a free one).
    #[arg(long)]
    pub registry_port: Option<u16>,
    /// The host clients are told to reach the broker and registry at (with
    /// --listen 0.0.0.0 in a container: the host's name for it).
    #[arg(long)]
    pub advertised_host: Option<String>,
    /// Keep the broker's topics, records and offsets in this directory
    /// (tansu's sqlite engine) so they survive a restart.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// A shipped flow or a spec file: generate its flows (and check against it).
    #[arg(long)]
    pub flow: Option<String>,
    /// Produce this fixture file as it is instead of generating.
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    pub flows: usize,
    /// Path weights, e.g. happy=80,cancel=15,rollback=5.
    #[arg(long)]
    pub mix: Option<String>,
    /// Topic (default: the flow's, or the fixture entries').
    #[arg(long)]
    pub topic: Option<String>,
    /// Partitions of the topics created (default: as the contract says,
    /// else 3).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// How long to wait to observe every message.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Turn off the idempotent producer (for load-like runs).
    #[arg(long)]
    pub no_idempotence: bool,
    #[arg(long, default_value = "all")]
    pub acks: String,
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u32,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// Producer batch size in bytes (librdkafka's batch.size).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Subject naming: topic, record or topic-record.
    #[arg(long, default_value = "topic")]
    pub subject_strategy: String,
    /// Write the check as JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub generate: GenerateOptions,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// A shipped flow (account-migration, subscription-catalog) or a spec file.
    #[arg(long)]
    pub flow: String,
    /// The consumer under test, run with `sh -c` for every trial. `{topic}`
    /// and `{group}` stand for the trial's; it also finds them, and the
    /// broker and registry, in FLOWHARNESS_TOPIC, FLOWHARNESS_GROUP,
    /// KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL.
    #[arg(long)]
    pub command: String,
    /// The consumer's group (`{topic}` stands for the trial's topic): a
    /// trial waits until it has caught up, then reads the output. Without
    /// one, a trial waits for the output until --timeout.
    #[arg(long)]
    pub group: Option<String>,
    /// The topic the consumer publishes on; `{topic}` is the trial's.
    #[arg(long, default_value = "{topic}-status")]
    pub output: String,
    /// A file with the table of what the consumer publishes for each event
    /// (`| event | field ... |`, as in the BDD step `shows each account's events as:`).
    #[arg(long)]
    pub expect: PathBuf,
    /// Flows per trial.
    #[arg(long, default_value_t = 30)]
    pub flows: usize,
    /// Path weights, e.g. happy=1,cancel=1,rollback=1 (default: every path alike).
    #[arg(long)]
    pub mix: Option<String>,
    /// Random trials before the consumer is declared clean.
    #[arg(long, default_value_t = 20)]
    pub trials: usize,
    /// Trials spent shrinking a failure, at most.
    #[arg(long, default_value_t = 60)]
    pub max_shrink_steps: usize,
    /// Seconds a trial gives the consumer to catch up and publish.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Write the failure here as a replay: a fixture and a feature file.
    #[arg(long)]
    pub save_failures: Option<PathBuf>,
    #[command(flatten)]
    pub generate: GenerateOptions,
    #[command(flatten)]
    pub connect: ConnectArgs,
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
    #[arg(long, conflicts_with = "topic")]
    pub file: Option<PathBuf>,
    /// A topic to read and check (default: the flow's own topics, as
    /// produce writes them). `--topic NAME=ACTUAL` reads the flow's topic
    /// NAME from ACTUAL.
    #[arg(long)]
    pub topic: Vec<String>,
    /// Read the topic from the beginning, up to its end when reading began.
    #[arg(long)]
    pub from_beginning: bool,
    /// How long to read (without --from-beginning: how long to watch).
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Write the check as JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// A shipped flow or a spec file.
    #[arg(long)]
    pub flow: String,
    /// How to count flows left incomplete at the end (default: as the spec says).
    #[arg(long, value_enum)]
    pub incomplete: Option<IncompleteLevel>,
    /// Timing rules are divided by this (for time-compressed runs).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// How far back the checker remembers: ended flows that may still go
    /// on, keys with no open flow, and `unique` values. Memory grows with
    /// it (about 1 KB per remembered flow and key).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// Read only these partitions of each topic, such as `0-5` or `0,2,4`:
    /// one instance's share when several verify a topic together.
    #[arg(long, conflicts_with_all = ["file", "shard"])]
    pub partitions: Option<String>,
    /// Read every n-th partition of each topic from the i-th (`i/n`), as
    /// instance i of n (an indexed job's completion index).
    #[arg(long, conflicts_with = "file")]
    pub shard: Option<String>,
    /// Save the flows of the accounts with violations (the first 100) here
    /// as a fixture, and a feature file that replays them and fails the
    /// same way; with --topic they are read again from where verify began.
    #[arg(long)]
    pub save_failures: Option<PathBuf>,
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
    /// Avro (.avsc), Protobuf (.proto) or JSON Schema file, or a message of an AsyncAPI
    /// document (`DOC.yaml` with one message, or `DOC.yaml#NAME`).
    #[arg(long)]
    pub schema: PathBuf,
    /// How many values.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Only this branch of the schema's unions (short or full name), or
    /// this member of a Protobuf oneof (field name or message type).
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

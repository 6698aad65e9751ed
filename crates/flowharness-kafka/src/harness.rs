//! flowharness inside a Rust test suite: an embedded broker and registry,
//! whole flows produced through them, and what the service under test
//! publishes checked per account, without the CLI. The `flowharness`
//! crate re-exports this module as `flowharness::harness`.
//!
//! ```no_run
//! use std::time::Duration;
//! use flowharness_kafka::harness::Harness;
//!
//! # fn main() -> flowharness_kafka::Result<()> {
//! let h = Harness::embedded()?;
//! let run = h.flow("account-migration")?.mix("happy=8,cancel=1").seed(7).produce(20)?;
//! // Start the service under test on h.bootstrap_servers() and h.registry_url(),
//! // reading run.topic(); then:
//! run.expect_output("migration-status")
//!     .within(Duration::from_secs(30))
//!     .each_account(
//!         "| event     | status    |
//!          | Scheduled | PENDING   |
//!          | Completed | MIGRATED  |
//!          | Cancelled | CANCELLED |",
//!     )?;
//! # Ok(())
//! # }
//! ```
//!
//! Every value is one the flow's contract allows, and `produce` checks
//! what it sent came back intact (nothing lost, doubled or against the
//! contract) before returning. A table row per state of the flow names
//! the fields of the message the service publishes for it (`-` in every
//! cell: nothing); `{flow id}` and `{key}` stand for the event's own.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::flow::checker::CheckOptions;
use crate::flow::fixture_io::Keyed;
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::flow::{FlowSpec, shipped};
use crate::generate::hints::Hints;
use crate::generate::time;
use crate::hunt::expect::{Difference, Expectations, watch};
use crate::kafka::producer::ProducerOptions;
use crate::kafka::{Connect, Environment};
use crate::registry::SubjectStrategy;
use crate::verify::{ProduceRun, RunReport, flow_message, produce_and_check};

/// A broker and a Confluent-compatible registry for a test: embedded (in
/// this process, on 127.0.0.1 ephemeral ports) or external.
pub struct Harness {
    env: Environment,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("bootstrap_servers", &self.env.cluster.bootstrap)
            .field("registry_url", &self.env.registry_url())
            .finish()
    }
}

impl Harness {
    /// Starts the embedded broker (tansu) and registry; both stop when the
    /// harness is dropped.
    ///
    /// ```
    /// let h = flowharness_kafka::harness::Harness::embedded()?;
    /// assert!(h.bootstrap_servers().starts_with("127.0.0.1:"));
    /// assert!(h.registry_url().starts_with("http://127.0.0.1:"));
    /// # Ok::<(), flowharness_kafka::Error>(())
    /// ```
    pub fn embedded() -> Result<Harness> {
        Ok(Harness {
            env: Environment::embedded()?,
        })
    }

    /// Connects as the CLI's connection flags do: an external cluster
    /// (SASL/SSL through librdkafka properties), an external registry, or
    /// the embedded ones for whatever is not given.
    pub fn connect(connect: &Connect) -> Result<Harness> {
        Ok(Harness {
            env: Environment::connect(connect)?,
        })
    }

    /// `host:port` of the broker, for the service under test.
    pub fn bootstrap_servers(&self) -> &str {
        &self.env.cluster.bootstrap
    }

    /// The registry's URL, for the service under test.
    pub fn registry_url(&self) -> String {
        self.env.registry_url()
    }

    /// The environment underneath, for what this API does not cover.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// A flow to produce: a shipped one by name (`account-migration`) or
    /// a spec file's path. The spec is parsed and checked here, so a bad
    /// one fails before anything is sent.
    pub fn flow(&self, flow: &str) -> Result<FlowRun<'_>> {
        let spec = shipped::resolve(flow)?;
        Ok(FlowRun {
            harness: self,
            topic: spec.topic().to_string(),
            mix: Mix::uniform(&spec),
            spec,
            seed: 1,
            partitions: 3,
            now_ms: time::today_ms(),
            mix_error: None,
        })
    }
}

/// A flow about to be produced: its mix of paths, seed and topic.
#[derive(Debug)]
pub struct FlowRun<'h> {
    harness: &'h Harness,
    spec: FlowSpec,
    topic: String,
    mix: Mix,
    seed: u64,
    partitions: i32,
    now_ms: i64,
    mix_error: Option<String>,
}

impl<'h> FlowRun<'h> {
    /// The paths' weights, `happy=8,cancel=1` (default: every path alike).
    /// An unknown path is refused when the flows are produced.
    pub fn mix(mut self, mix: &str) -> Self {
        match Mix::parse(&self.spec, mix) {
            Ok(m) => self.mix = m,
            Err(e) => self.mix_error = Some(e.to_string()),
        }
        self
    }

    /// The seed: the same seed gives the same flows (default 1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The topic (default: the spec's); a flow across topics keeps its
    /// other topics' names.
    pub fn topic(mut self, topic: &str) -> Self {
        topic.clone_into(&mut self.topic);
        self
    }

    /// Partitions of the topics it creates (default 3).
    pub fn partitions(mut self, partitions: i32) -> Self {
        self.partitions = partitions;
        self
    }

    /// The "now" times are generated around, in epoch milliseconds
    /// (default: the start of today, UTC).
    pub fn now_ms(mut self, now_ms: i64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// Generates `flows` flows, registers the schema, produces them (keyed,
    /// with their flow ids as headers), reads them back and checks them.
    /// Fails if anything was lost, doubled or broke the contract.
    pub fn produce(self, flows: usize) -> Result<Produced<'h>> {
        if let Some(e) = self.mix_error {
            return Err(Error::Usage(format!("flow {}: {e}", self.spec.name())));
        }
        let options = FlowOptions {
            flows,
            mix: self.mix.clone(),
            hints: std::sync::Arc::new(Hints::builtin(self.now_ms)),
            jitter: 0.5,
            time_scale: 1.0,
        };
        let sent = FlowGenerator::new(&self.spec, options)?.generate(self.seed)?;
        let messages = sent.iter().cloned().map(|k| flow_message(&self.spec, k)).collect();
        let channels = self.spec.channels();
        let others: Vec<(String, crate::schema::Schema)> = channels
            .iter()
            .skip(1)
            .map(|c| (c.topic.clone(), c.schema.clone()))
            .collect();
        let mut topics = vec![self.topic.clone()];
        topics.extend(others.iter().map(|(t, _)| t.clone()));
        let run = ProduceRun {
            topic: self.topic.clone(),
            partitions: self.partitions,
            schema: self.spec.schema().clone(),
            others,
            messages,
            seed: Some(self.seed),
            strategy: SubjectStrategy::Topic,
            producer: ProducerOptions::default(),
            observe_timeout: Duration::from_secs(30),
            keep_observed: false,
        };
        let check = CheckOptions {
            topics,
            ..CheckOptions::default()
        };
        let report = produce_and_check(&self.harness.env, &run, Some(&self.spec), check)?;
        let broken = report.delivery.failed > 0 || report.lost > 0 || report.duplicated > 0 || report.check.errors > 0;
        if broken {
            return Err(Error::Usage(format!(
                "flow {} on {}: produced {}, acknowledged {}, failed {}, lost {}, duplicated {}, violations {}",
                self.spec.name(),
                self.topic,
                report.delivery.produced,
                report.delivery.acknowledged,
                report.delivery.failed,
                report.lost,
                report.duplicated,
                report.check.errors
            )));
        }
        Ok(Produced {
            harness: self.harness,
            spec: self.spec,
            topic: self.topic,
            sent,
            report,
        })
    }
}

/// Flows produced and checked: what the service under test reads.
#[derive(Debug)]
pub struct Produced<'h> {
    harness: &'h Harness,
    spec: FlowSpec,
    topic: String,
    sent: Vec<Keyed>,
    report: RunReport,
}

impl<'h> Produced<'h> {
    /// The topic the flows went to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The delivery, observation and contract figures of the run.
    pub fn report(&self) -> &RunReport {
        &self.report
    }

    /// The keys (accounts) produced, each once, in the order first sent.
    pub fn keys(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.sent
            .iter()
            .map(|k| k.key.as_str())
            .filter(|k| seen.insert(*k))
            .collect()
    }

    /// Every message sent, in order, as proto3/Avro JSON values.
    pub fn sent(&self) -> &[Keyed] {
        &self.sent
    }

    /// What the service publishes on `topic` (`{topic}` stands for the
    /// produced topic), checked per account; 30 s to do it by default.
    pub fn expect_output(&self, topic: &str) -> OutputCheck<'_, 'h> {
        OutputCheck {
            produced: self,
            topic: topic.replace("{topic}", &self.topic),
            within: Duration::from_secs(30),
        }
    }
}

/// A check of the service's output topic.
#[derive(Debug)]
pub struct OutputCheck<'p, 'h> {
    produced: &'p Produced<'h>,
    topic: String,
    within: Duration,
}

/// Accounts whose output is not what their events imply.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputMismatch {
    /// The output topic.
    pub topic: String,
    /// How many accounts the table expects output for.
    pub accounts: usize,
    /// One per account that differs, with its first differing message.
    pub differences: Vec<Difference>,
    /// Whether the wait ran out before every account had its messages.
    pub timed_out: bool,
}

impl std::fmt::Display for OutputMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} accounts on {} do not follow their events{}",
            self.differences.len(),
            self.accounts,
            self.topic,
            if self.timed_out { " (the wait ran out)" } else { "" }
        )?;
        for d in self.differences.iter().take(10) {
            write!(f, "\n  {d}")?;
        }
        if self.differences.len() > 10 {
            write!(f, "\n  … and {} more", self.differences.len() - 10)?;
        }
        Ok(())
    }
}

impl OutputCheck<'_, '_> {
    /// How long the service has, from now, to publish everything.
    pub fn within(mut self, within: Duration) -> Self {
        self.within = within;
        self
    }

    /// Reads the output topic from its start until every account has as
    /// many messages as `table` implies from the events produced (or the
    /// wait runs out), then compares them in order. `table` is a Gherkin
    /// table, `| event | field ... |` then a row per state.
    pub fn each_account(self, table: &str) -> Result<()> {
        let p = self.produced;
        let expectations = Expectations::parse(&p.spec, table)?;
        let wanted = expectations.wanted(&p.spec, &p.sent)?;
        if wanted.is_empty() {
            return Err(Error::Usage(
                "nothing produced calls for a message on the output topic: every state it sent has - in the table"
                    .into(),
            ));
        }
        let watched = watch(&p.harness.env, &self.topic, &expectations, &wanted, self.within)?;
        if let Some(first) = watched.undecodable.first() {
            return Err(Error::Usage(format!(
                "{}: {} messages do not decode, the first at {first}",
                self.topic,
                watched.undecodable.len()
            )));
        }
        if watched.differences.is_empty() {
            return Ok(());
        }
        Err(Error::Usage(
            OutputMismatch {
                topic: self.topic.clone(),
                accounts: wanted.len(),
                differences: watched.differences,
                timed_out: watched.timed_out,
            }
            .to_string(),
        ))
    }
}

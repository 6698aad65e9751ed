//! One trial: a case sent to a fresh topic, the consumer under test
//! started on it in a fresh consumer group, and what it published checked
//! against the expectation table. Nothing sleeps a fixed time: the trial
//! waits for the group to catch up, then reads the output topic to its end.

use crate::num::Cast as _;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::case::Case;
use super::expect::{Difference, Expectations, Expected};
use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::kafka::Environment;
use crate::kafka::lag::{self, Waited};
use crate::kafka::observer::{Decoder, ObserveOptions, observe};
use crate::verify::{flow_message, produce_only};

/// The consumer under test: a command run per trial, and the consumer
/// group it reads in. `{topic}` stands for the trial's topic in both, and
/// `{group}` for the group in the command.
#[derive(Debug, Clone)]
pub struct Service {
    pub command: String,
    /// Without one, a trial cannot tell when the consumer caught up, and
    /// waits for the output until the timeout.
    pub group: Option<String>,
}

impl Service {
    /// The command for a trial on `topic`.
    pub fn command_for(&self, topic: &str) -> String {
        let group = self.group_for(topic).unwrap_or_default();
        self.command.replace("{group}", &group).replace("{topic}", topic)
    }

    pub fn group_for(&self, topic: &str) -> Option<String> {
        self.group.as_ref().map(|g| g.replace("{topic}", topic))
    }
}

/// What every trial of a hunt shares.
#[derive(Debug)]
pub struct Setup<'a> {
    pub env: &'a Environment,
    pub spec: &'a FlowSpec,
    pub service: Service,
    /// The topic the consumer publishes on; `{topic}` is the trial's.
    pub output: String,
    pub expectations: Expectations,
    /// How long the consumer has to catch up and publish.
    pub timeout: Duration,
    /// Trial topics are `{prefix}-{n}`.
    pub prefix: String,
    /// Where the consumer's stderr goes, a log per trial.
    pub logs: PathBuf,
}

/// How a trial went.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub topic: String,
    /// Accounts whose output is not what their events imply.
    pub differences: Vec<Difference>,
    /// The trial failed for another reason: the consumer stopped, or its
    /// group did not catch up.
    pub broke: Option<String>,
    pub seconds: f64,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.broke.is_some() || !self.differences.is_empty()
    }

    /// One line per difference (at most `show`), or what broke.
    pub fn describe(&self, show: usize) -> String {
        let mut lines: Vec<String> = self.broke.iter().cloned().collect();
        lines.extend(self.differences.iter().take(show).map(|d| format!("  {d}")));
        if self.differences.len() > show {
            lines.push(format!("  … and {} more", self.differences.len() - show));
        }
        lines.join("\n")
    }

    /// The same failure, as far as a replay can tell: the same accounts
    /// differ at the same message in the same way.
    pub fn same_failure(&self, other: &Outcome) -> bool {
        self.broke.is_some() == other.broke.is_some() && self.differences == other.differences
    }
}

impl Setup<'_> {
    /// Runs `case` as trial number `n`.
    pub fn run(&self, case: &Case, n: usize) -> Result<Outcome> {
        let began = Instant::now();
        let topic = format!("{}-{n}", self.prefix);
        let spec = self.spec;
        let wanted = self.expectations.wanted(spec, &case.messages)?;
        let cluster = &self.env.cluster;
        let partitions = spec.partitions().unwrap_or(3);
        cluster.create_topic(&topic, partitions)?;
        let output = self.output.replace("{topic}", &topic);
        // The trial's own output topic is the harness's to create, as its
        // input is (a broker may not create topics on first use); one
        // shared by every trial is the service's, read from where it was.
        let output_start = if self.output.contains("{topic}") {
            cluster.create_topic(&output, partitions)?;
            None
        } else {
            crate::kafka::observer::end_offsets(cluster, &output)
                .ok()
                .filter(|ends| !ends.is_empty())
        };
        let log = self.logs.join(format!("{topic}.log"));
        let command = self.service.command_for(&topic);
        let group = self.service.group_for(&topic);
        let mut child = crate::service::start(
            &command,
            self.env,
            &topic,
            &[("FLOWHARNESS_GROUP", group.as_deref().unwrap_or(""))],
            &log,
        )?;
        let mut processes = crate::service::Processes::default();
        let pid = child.id();
        let outcome = (|| {
            let messages: Vec<_> = case.messages.iter().map(|k| flow_message(spec, k.clone())).collect();
            let delivery = produce_only(self.env, spec, &topic, partitions, &messages)?;
            if delivery.failed > 0 {
                return Err(Error::Usage(format!(
                    "{topic}: {} of the case's messages were not delivered: {:?}",
                    delivery.failed, delivery.failures
                )));
            }
            if let Some(group) = &group
                && let Some(broke) = self.wait_for_group(&mut child, group, &topic, &log)?
            {
                return Ok((Vec::new(), Some(broke)));
            }
            let seen = self.read_output(&output, output_start, &wanted, group.is_none())?;
            Ok((super::expect::compare(&wanted, &seen), None))
        })();
        processes.add(child);
        processes.stop();
        let (differences, broke) = outcome.map_err(|e: Error| match e {
            Error::Usage(m) => Error::Usage(format!("trial {n} (consumer pid {pid}): {m}")),
            other => other,
        })?;
        Ok(Outcome {
            topic,
            differences,
            broke,
            seconds: began.elapsed().as_secs_f64(),
        })
    }

    /// Waits until the group has read and committed everything on `topic`;
    /// what went wrong when it does not within the timeout or the consumer
    /// stops first.
    fn wait_for_group(
        &self,
        child: &mut std::process::Child,
        group: &str,
        topic: &str,
        log: &std::path::Path,
    ) -> Result<Option<String>> {
        let every = Duration::from_millis(50);
        let mut exited = || child.try_wait().ok().flatten().map(|status| status.to_string());
        Ok(
            match lag::wait_until_caught_up(&self.env.cluster, group, topic, self.timeout, every, &mut exited)? {
                Waited::CaughtUp => None,
                Waited::Stopped(status, _) => Some(format!(
                    "the consumer stopped ({status}) before its group {group} caught up; its log ends:\n{}",
                    crate::service::log_tail(log, 5)
                )),
                Waited::Lagging(lag) => Some(format!(
                    "the consumer group {group} still lags {lag} messages behind on {topic} after {}s",
                    self.timeout.as_secs()
                )),
            },
        )
    }

    /// The output of the keys the case sent, per key in order. With the
    /// group caught up the output is all there: read to the end. Without a
    /// group, read until every key has its count or the timeout passes.
    fn read_output(
        &self,
        output: &str,
        start: Option<Vec<(i32, i64)>>,
        wanted: &BTreeMap<String, Vec<Expected>>,
        wait: bool,
    ) -> Result<BTreeMap<String, Vec<Expected>>> {
        let cluster = &self.env.cluster;
        let mut seen: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
        let total: usize = wanted.values().map(Vec::len).sum();
        let deadline = Instant::now() + self.timeout;
        let decoder = Decoder {
            registry: self.env.registry.clone(),
        };
        // A consumer may create its output topic only when it first writes.
        let held = loop {
            match crate::kafka::observer::end_offsets(cluster, output) {
                Ok(ends) if !ends.is_empty() => {
                    break ends
                        .iter()
                        .map(|(p, end)| {
                            let from = start.iter().flatten().find(|(q, _)| q == p).map_or(0, |(_, o)| *o);
                            end - from
                        })
                        .sum::<i64>();
                }
                _ if Instant::now() >= deadline || !wait => return Ok(seen),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        // Caught up, the output is all written: stop once as many as the
        // topic holds (or the table wants) are read, else at its end.
        let expected = if wait {
            total.sat_u64()
        } else {
            u64::try_from(held).unwrap_or(0)
        };
        if expected == 0 {
            return Ok(seen);
        }
        let options = ObserveOptions {
            start,
            expected: Some(expected),
            until_end: !wait,
            timeout: if wait { self.timeout } else { Duration::from_secs(10) },
            run_id: None,
            partitions: None,
        };
        observe(cluster, output, &decoder, &options, &mut |o, _| {
            if let (Some(key), Ok(value)) = (&o.key, &o.value)
                && wanted.contains_key(key)
            {
                seen.entry(key.clone()).or_default().push(self.expectations.seen(value));
            }
        })?;
        Ok(seen)
    }
}

//! `load --observe`: a consumer beside the producer reads the topic from
//! where the run began, runs the flow checker on everything, and measures
//! end-to-end latency per event type, from the time a message was meant
//! to be sent (its timestamp) to the time it was read.

use crate::num::Cast as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use rdkafka::Offset;
use rdkafka::message::Message as _;
use serde::{Deserialize, Serialize};

use super::metrics::{Latency, histogram, record};
use crate::error::Result;
use crate::flow::FlowSpec;
use crate::flow::checker::{CheckOptions, Checker, Observed};
use crate::kafka::cluster::Cluster;
use crate::kafka::observer::Decoder;

/// What the observer saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedSummary {
    pub messages: u64,
    /// Acknowledged but never read.
    pub lost: u64,
    pub violations: u64,
    pub warnings: u64,
    /// Findings by rule.
    pub by_rule: BTreeMap<String, u64>,
    /// The first findings, as text.
    pub findings: Vec<String>,
    pub complete_by_path: BTreeMap<String, u64>,
    /// End-to-end latency by event type.
    pub end_to_end: BTreeMap<String, Latency>,
    pub timed_out: bool,
    /// Per second since the observer started.
    #[serde(default)]
    pub timeline: Vec<ObservedTick>,
    /// Acknowledged but not yet read when the producer finished.
    #[serde(default)]
    pub behind_at_producer_end: u64,
    /// How long after the producer finished everything acknowledged had
    /// been read; none when it never was.
    #[serde(default)]
    pub caught_up_seconds: Option<f64>,
    /// The keys of the first flows with violations (at most
    /// [`crate::verify::REPLAY_KEYS`]), for `--save-failures`; not in the
    /// JSON report.
    #[serde(skip)]
    pub keys_with_violations: Vec<String>,
}

/// One second of the observer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedTick {
    pub t: u64,
    pub messages: u64,
    pub end_to_end_p99_ms: f64,
}

impl ObservedSummary {
    /// Whether it fell behind: still reading a second or more after the
    /// producer finished.
    pub fn fell_behind(&self) -> bool {
        self.behind_at_producer_end > 0 && self.caught_up_seconds.is_none_or(|s| s >= 1.0)
    }
}

/// Tells the observer when the producer is done and how many it should see.
#[derive(Debug, Default)]
pub struct Expect {
    pub producer_done: AtomicBool,
    pub acknowledged: AtomicU64,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().sat_i64())
}

/// The header a shard's messages carry: its run id.
pub const RUN_HEADER: &str = "flowharness-load-run";

/// Whether `m` belongs to the run `run` (every message does without one).
fn of_run<M: rdkafka::Message>(m: &M, run: Option<&str>) -> bool {
    use rdkafka::message::Headers as _;
    let Some(run) = run else { return true };
    m.headers()
        .is_some_and(|h| h.iter().any(|h| h.key == RUN_HEADER && h.value == Some(run.as_bytes())))
}

/// Observes `topic` from `start` until the producer is done and everything
/// acknowledged was read (or nothing arrived for `quiet`); with a `run`,
/// only the messages carrying it (a shard's among the others').
pub fn observe(
    cluster: &Cluster,
    start: &[(String, Vec<(i32, i64)>)],
    decoder: &Decoder,
    spec: &Arc<FlowSpec>,
    expect: &Expect,
    quiet: Duration,
    run: Option<&str>,
) -> Result<ObservedSummary> {
    let consumer = cluster.consumer(
        &format!("flowharness-load-observer-{}", uuid::Uuid::new_v4()),
        &[("fetch.wait.max.ms", "10")],
    )?;
    let offsets = start
        .iter()
        .flat_map(|(t, parts)| parts.iter().map(move |(p, o)| (t.as_str(), *p, Offset::Offset(*o))));
    cluster.assign_many(&consumer, offsets)?;
    let names: Vec<Arc<str>> = start.iter().map(|(t, _)| Arc::from(t.as_str())).collect();
    let multi = names.len() > 1;
    let options = CheckOptions {
        topics: if multi {
            start.iter().map(|(t, _)| t.clone()).collect()
        } else {
            Vec::new()
        },
        ..CheckOptions::default()
    };
    let mut checker = Checker::new(spec, options);
    let mut positions = vec![crate::kafka::observer::Positions::default(); names.len()];
    let mut latencies: BTreeMap<usize, Histogram<u64>> = BTreeMap::new();
    let mut summary = ObservedSummary::default();
    let mut last = Instant::now();
    let origin = Instant::now();
    let mut second = Second::new();
    let mut producer_done_at: Option<Instant> = None;
    loop {
        second.roll(origin, &mut summary.timeline);
        let done = expect.producer_done.load(Ordering::Relaxed);
        if done && producer_done_at.is_none() {
            producer_done_at = Some(Instant::now());
            summary.behind_at_producer_end = expect
                .acknowledged
                .load(Ordering::Relaxed)
                .saturating_sub(summary.messages);
        }
        if done && summary.messages >= expect.acknowledged.load(Ordering::Relaxed) {
            summary.caught_up_seconds = producer_done_at.map(|at| at.elapsed().as_secs_f64());
            break;
        }
        if done && last.elapsed() >= quiet {
            summary.timed_out = true;
            break;
        }
        let Some(polled) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let Ok(m) = polled else { continue };
        last = Instant::now();
        // A re-delivery (see `Positions`) is not counted twice.
        let t = names.iter().position(|n| **n == *m.topic()).unwrap_or(0);
        if !positions[t].advance(m.partition(), m.offset()) || !of_run(&m, run) {
            continue;
        }
        summary.messages += 1;
        second.messages += 1;
        let (value, writer) = decoder.decode_named(m.payload());
        let state = match (&value, &writer) {
            (Ok(v), Some(r)) if spec.channels().iter().any(|c| c.records) => spec
                .classify(&serde_json::json!({ r.as_ref(): v }))
                .or_else(|_| spec.classify(v)),
            (Ok(v), _) => spec.classify(v),
            (Err(e), _) => Err(e.clone()),
        };
        if let Ok(state) = state
            && let Some(sent) = m.timestamp().to_millis()
        {
            let us = (wall_ms() - sent).max(0).sat_u64() * 1000;
            record(latencies.entry(state).or_insert_with(histogram), us);
            record(&mut second.latency, us);
        }
        checker.observe(&Observed {
            topic: multi.then(|| names[t].clone()),
            record: writer,
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value,
            headers: crate::kafka::observer::headers_of(&m),
        });
    }
    second.flush(&mut summary.timeline);
    let report = checker.finish();
    summary.lost = expect
        .acknowledged
        .load(Ordering::Relaxed)
        .saturating_sub(summary.messages);
    summary.violations = report.errors;
    summary.warnings = report.warnings;
    summary.by_rule = report.counts.iter().map(|(r, n)| (r.name().to_string(), *n)).collect();
    summary.findings = report.findings.iter().take(20).map(ToString::to_string).collect();
    summary.keys_with_violations = crate::verify::keys_with_violations(&report);
    summary.complete_by_path = report.complete_by_path.clone();
    summary.end_to_end = latencies
        .iter()
        .map(|(s, h)| (spec.states()[*s].name.clone(), Latency::of(h)))
        .collect();
    Ok(summary)
}

/// The second the observer is in: messages read and their latencies.
struct Second {
    index: u64,
    messages: u64,
    latency: Histogram<u64>,
}

impl Second {
    fn new() -> Second {
        Second {
            index: 0,
            messages: 0,
            latency: histogram(),
        }
    }

    /// Closes the seconds that have passed since this one began.
    fn roll(&mut self, origin: Instant, timeline: &mut Vec<ObservedTick>) {
        let now = origin.elapsed().as_secs();
        while self.index < now {
            self.flush(timeline);
        }
    }

    fn flush(&mut self, timeline: &mut Vec<ObservedTick>) {
        self.index += 1;
        timeline.push(ObservedTick {
            t: self.index,
            messages: std::mem::take(&mut self.messages),
            end_to_end_p99_ms: if self.latency.is_empty() {
                0.0
            } else {
                self.latency.value_at_quantile(0.99).to_f64() / 1000.0
            },
        });
        self.latency.reset();
    }
}

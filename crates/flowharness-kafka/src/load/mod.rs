//! Load: synthetic flows at a controlled rate for consumer teams. Flows are
//! stamped out of [`templates`] (drawn once by the flow generator, so every
//! rule holds), sent by the open-model [`engine`] into a [`sink`], checked
//! by an [`observe`]r alongside, and summed up in a [`report`].

pub mod bench;
pub mod bench_paths;
pub mod engine;
pub mod html;
pub mod metrics;
pub mod observe;
pub mod rate;
pub mod report;
pub mod sink;
pub mod stamps;
pub mod templates;

use crate::num::Cast as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::generator::Mix;
use crate::generate::hints::Hints;
use crate::kafka::Environment;
use crate::kafka::observer::{Decoder, end_offsets};
use crate::kafka::producer::ProducerOptions;
use crate::registry::SubjectStrategy;
use engine::{EngineOptions, EngineResult};
use metrics::{Latency, Tick};
use observe::{Expect, ObservedSummary};
use sink::{Acks, KafkaSink};
use templates::Pool;

/// The version tag of the JSON report (see `schemas/load-report.schema.json`).
pub const REPORT_FORMAT: &str = "flowharness-load-report/1";

/// A load run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub flow: Arc<FlowSpec>,
    pub topic: String,
    pub partitions: i32,
    /// `--rate` as given, for the report.
    pub rate: String,
    pub engine: EngineOptions,
    pub mix: Mix,
    pub hints: Arc<Hints>,
    /// Streams drawn for the template pool.
    pub pool_size: usize,
    pub observe: bool,
    pub consumer_group: Option<String>,
    /// How long to wait for the group to drain after the run.
    pub drain_timeout: Duration,
    pub producer: ProducerOptions,
}

/// Shard `i/n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `--shard i/n`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || {
            Error::Usage(format!(
                "--shard: expected i/n with 0 <= i < n, such as 0/4, found {text:?}"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Counts of flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowCounts {
    pub started: u64,
    pub finished_sending: u64,
    pub in_flight_at_end: u64,
    pub peak_in_flight: u64,
    pub by_path: BTreeMap<String, u64>,
}

/// Counts of events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventCounts {
    pub sent: u64,
    pub acknowledged: u64,
    pub failed: u64,
    pub error_rate: f64,
}

/// A consumer group's lag after the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupLag {
    pub group: String,
    pub drained: bool,
    pub remaining: i64,
    pub seconds_to_drain: Option<f64>,
    /// The total lag about once a second, through the run and the drain.
    #[serde(default)]
    pub timeline: Vec<LagTick>,
}

/// The group's lag at a moment of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LagTick {
    /// Seconds since the run started.
    pub t: f64,
    pub lag: i64,
}

/// Service-level objectives and what breached them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub max_p99_ms: Option<f64>,
    pub max_error_rate: Option<f64>,
    pub breaches: Vec<String>,
}

/// The report of a load run (`--report out.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub format: String,
    pub flow: String,
    pub topic: String,
    pub shards: Vec<Shard>,
    pub seed: u64,
    pub rate: String,
    pub time_scale: f64,
    pub interrupted: bool,
    pub seconds: f64,
    pub flows: FlowCounts,
    pub events: EventCounts,
    pub failures: Vec<String>,
    pub flows_per_second: f64,
    pub events_per_second: f64,
    pub ack_latency: Latency,
    pub observed: Option<ObservedSummary>,
    pub consumer_group: Option<GroupLag>,
    pub timeline: Vec<Tick>,
    pub slo: Slo,
}

impl LoadReport {
    /// Whether anything went wrong: failures, loss, violations, an SLO, an
    /// undrained group, an interruption.
    pub fn failed(&self) -> bool {
        self.events.failed > 0
            || self.interrupted
            || !self.slo.breaches.is_empty()
            || self.observed.as_ref().is_some_and(|o| o.lost > 0 || o.violations > 0)
            || self.consumer_group.as_ref().is_some_and(|g| !g.drained)
    }

    /// Checks the SLOs, recording every breach.
    pub fn apply_slo(&mut self, max_p99_ms: Option<f64>, max_error_rate: Option<f64>) {
        self.slo.max_p99_ms = max_p99_ms;
        self.slo.max_error_rate = max_error_rate;
        self.slo.breaches.clear();
        if let Some(max) = max_p99_ms
            && self.ack_latency.p99_ms > max
        {
            self.slo.breaches.push(format!(
                "ack p99 {:.2} ms is above --max-p99 {max} ms",
                self.ack_latency.p99_ms
            ));
        }
        if let Some(max) = max_error_rate
            && self.events.error_rate > max
        {
            self.slo.breaches.push(format!(
                "error rate {:.4}% is above --max-error-rate {:.4}%",
                self.events.error_rate * 100.0,
                max * 100.0
            ));
        }
    }
}

impl LoadOptions {
    /// The topics a run writes: `topic` for a flow on one topic; a flow
    /// across topics writes each of its own, `topic` naming the first.
    pub fn topics(&self) -> Vec<String> {
        let mut names: Vec<String> = self.flow.channels().iter().map(|c| c.topic.clone()).collect();
        names[0].clone_from(&self.topic);
        names
    }
}

/// Builds the template pool for a run, encoding through the registry.
pub fn pool(env: &Environment, options: &LoadOptions, seed: u64) -> Result<Pool> {
    let spec = &options.flow;
    let topics = options.topics();
    let mut encoders = Vec::with_capacity(topics.len());
    for (topic, channel) in topics.iter().zip(spec.channels()) {
        encoders.push(crate::verify::TopicEncoder::register(
            env,
            topic,
            &channel.schema,
            channel.records,
            SubjectStrategy::Topic,
        )?);
    }
    let encode = |v: &serde_json::Value, c: usize| encoders[c].encode(v);
    let pool = Pool::build(
        spec,
        &options.mix,
        options.hints.clone(),
        options.pool_size,
        seed,
        &encode,
    )?;
    pool.check_stamps(spec, seed)?;
    let needed = options.engine.accounts;
    if pool.key_capacity() < needed {
        return Err(Error::Usage(format!(
            "--accounts {needed}: keys of flow {} tell apart only {} accounts",
            spec.name(),
            pool.key_capacity()
        )));
    }
    Ok(pool)
}

/// Runs a load against `env`: produce, observe alongside when asked, wait
/// for the consumer group to drain when one is named. `tick` sees every
/// second; `stop` ends the run early (the report says it was interrupted).
pub fn run(
    env: &Environment,
    options: &LoadOptions,
    stop: &AtomicBool,
    tick: &mut dyn FnMut(&Tick),
) -> Result<LoadReport> {
    let cluster = &env.cluster;
    let topics = options.topics();
    for t in &topics {
        cluster.create_topic(t, options.partitions)?;
    }
    let pool = pool(env, options, options.engine.seed)?;
    let mut start = Vec::with_capacity(topics.len());
    for t in &topics {
        start.push((t.clone(), end_offsets(cluster, t)?));
    }
    let acks = Arc::new(Acks::new(Instant::now()));
    let mut sink = KafkaSink::new(cluster, &options.producer, &topics, acks.clone())?;
    // Shards share their topics: each one's messages carry its run id, and
    // its observer reads those alone, so that shard reports add up.
    let run_id = (options.engine.shard.1 > 1).then(|| {
        format!(
            "{}/{}:{}",
            options.engine.shard.0,
            options.engine.shard.1,
            uuid::Uuid::new_v4().simple()
        )
    });
    if let Some(run) = &run_id {
        sink = sink.with_header(observe::RUN_HEADER, run);
    }
    let expect = Arc::new(Expect::default());
    let observer = options.observe.then(|| {
        let (cluster, spec, expect) = (cluster.clone(), options.flow.clone(), expect.clone());
        let decoder = Decoder {
            registry: env.registry.clone(),
        };
        let run_id = run_id.clone();
        std::thread::spawn(move || {
            observe::observe(
                &cluster,
                &start,
                &decoder,
                &spec,
                &expect,
                Duration::from_secs(10),
                run_id.as_deref(),
            )
        })
    });
    let origin = Instant::now();
    let sampling = Arc::new(AtomicBool::new(false));
    let sampler = options.consumer_group.clone().map(|group| {
        let (cluster, topic, sampling) = (cluster.clone(), options.topic.clone(), sampling.clone());
        std::thread::spawn(move || crate::kafka::lag::sample_lag(&cluster, &group, &topic, origin, &sampling))
    });
    let result = engine::run(&pool, &options.engine, &mut sink, &acks, stop, tick);
    expect
        .acknowledged
        .store(acks.acknowledged.load(Ordering::Relaxed), Ordering::Relaxed);
    expect.producer_done.store(true, Ordering::Relaxed);
    let observed = match observer {
        Some(handle) => Some(
            handle
                .join()
                .map_err(|_| Error::internal("the observer thread panicked"))??,
        ),
        None => None,
    };
    let consumer_group = match &options.consumer_group {
        Some(group) => {
            let began = Instant::now();
            let lag = crate::kafka::lag::wait_for_zero_lag(cluster, group, &options.topic, options.drain_timeout)?;
            sampling.store(true, Ordering::Relaxed);
            let timeline = sampler
                .map(|s| s.join().unwrap_or_default())
                .unwrap_or_default()
                .into_iter()
                .map(|(t, lag)| LagTick { t, lag })
                .collect();
            Some(GroupLag {
                group: group.clone(),
                drained: lag.is_ok(),
                remaining: lag.err().unwrap_or(0),
                seconds_to_drain: lag.is_ok().then(|| began.elapsed().as_secs_f64()),
                timeline,
            })
        }
        None => None,
    };
    Ok(report(options, &result, &acks, observed, consumer_group))
}

fn report(
    options: &LoadOptions,
    r: &EngineResult,
    acks: &Acks,
    observed: Option<ObservedSummary>,
    consumer_group: Option<GroupLag>,
) -> LoadReport {
    let spec = &options.flow;
    let acknowledged = acks.acknowledged.load(Ordering::Relaxed);
    let failed = acks.failed.load(Ordering::Relaxed);
    let latency = Latency::of(&acks.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0);
    let seconds = r.seconds.max(1e-9);
    // Flows are counted over the time they were starting, events over the run.
    let starting = options
        .engine
        .schedule
        .seconds()
        .unwrap_or(r.starting_seconds)
        .min(seconds)
        .max(1e-9);
    LoadReport {
        format: REPORT_FORMAT.into(),
        flow: spec.name().to_string(),
        topic: options.topic.clone(),
        shards: vec![Shard {
            index: options.engine.shard.0,
            count: options.engine.shard.1,
        }],
        seed: options.engine.seed,
        rate: options.rate.clone(),
        time_scale: options.engine.time_scale,
        interrupted: r.interrupted,
        seconds: r.seconds,
        flows: FlowCounts {
            started: r.flows_started,
            finished_sending: r.flows_finished,
            in_flight_at_end: r.flows_in_flight,
            peak_in_flight: r.peak_in_flight,
            by_path: r
                .by_path
                .iter()
                .map(|(p, n)| (spec.paths()[*p].name.clone(), *n))
                .collect(),
        },
        events: EventCounts {
            sent: r.events_sent,
            acknowledged,
            failed,
            error_rate: if r.events_sent == 0 {
                0.0
            } else {
                failed.to_f64() / r.events_sent.to_f64()
            },
        },
        failures: acks
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
        flows_per_second: r.flows_started.to_f64() / starting,
        events_per_second: r.events_sent.to_f64() / seconds,
        ack_latency: latency,
        observed,
        consumer_group,
        timeline: r.timeline.clone(),
        slo: Slo::default(),
    }
}

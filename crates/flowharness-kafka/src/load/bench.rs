//! `flowharness bench`: is the harness ever the bottleneck? In one process,
//! against the same broker and topic settings:
//!
//! - A: raw rdkafka producing pre-encoded payloads of B's mean value size
//!   flat out;
//! - B: the load engine at unlimited rate, with template stamping, Confluent
//!   framing, account bookkeeping and flow state;
//!
//! then B/A, the harness's own events per second on one core with no
//! broker, and the resident memory with a million accounts in flight.

use crate::num::Cast as _;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

use super::engine::{self, EngineOptions};
use super::rate::Schedule;
use super::sink::{Acks, KafkaSink, NullSink};
use super::templates::Pool;
use super::{LoadOptions, pool};
use crate::error::Result;
use crate::kafka::Environment;

/// What the benchmark measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub raw_events_per_second: f64,
    pub harness_events_per_second: f64,
    pub harness_alone_events_per_second: f64,
    /// B's mean value size, which A's payloads take too.
    pub harness_event_bytes: f64,
    pub accounts_in_flight: u64,
    pub rss_mb_in_flight: f64,
    pub rss_mb_before: f64,
}

impl BenchResult {
    pub fn ratio(&self) -> f64 {
        self.harness_events_per_second / self.raw_events_per_second.max(1e-9)
    }
}

/// Resident memory now, in MB (Linux; 0 elsewhere).
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn unlimited(options: &LoadOptions, max_flows: u64, time_scale: f64) -> EngineOptions {
    EngineOptions {
        schedule: Schedule::Unlimited,
        duration: Duration::from_secs(600),
        max_flows: Some(max_flows),
        time_scale,
        ..options.engine.clone()
    }
}

fn events_per_flow(pool: &Pool) -> f64 {
    let n = pool.templates.len().max(1);
    pool.templates.iter().map(|t| t.events.len()).sum::<usize>().to_f64() / n.to_f64()
}

/// Memory with `accounts` flows in flight: every flow started, none
/// finished (their second events are a day away).
pub fn in_flight_memory(pool: &Pool, options: &LoadOptions, accounts: u64) -> (f64, f64) {
    let before = rss_mb();
    let acks = Arc::new(Acks::new(Instant::now()));
    let mut sink = NullSink(acks.clone());
    let mut engine = unlimited(options, accounts, 1.0);
    engine.accounts = accounts;
    engine.max_in_flight = accounts;
    let stop = AtomicBool::new(false);
    let mut peak = before;
    let mut tick = |t: &super::metrics::Tick| {
        peak = peak.max(rss_mb());
        if t.flows_in_flight >= accounts {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let result = engine::run(pool, &engine, &mut sink, &acks, &stop, &mut tick);
    std::hint::black_box(&result);
    (before, peak.max(rss_mb()))
}

/// Turns each of A and B takes.
pub const ROUNDS: usize = 3;

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

/// A: raw rdkafka producing pre-encoded payloads of `bytes` bytes into a
/// fresh topic as fast as it can; events per second, flush included.
fn raw_rate(env: &Environment, options: &LoadOptions, events: u64, topic: &str, bytes: usize) -> Result<f64> {
    env.cluster.create_topic(topic, options.partitions)?;
    // The same producer settings as B's sink: only the harness differs.
    let mut config = options.producer.client_config(&env.cluster);
    config.set("queue.buffering.max.messages", "1000000");
    let producer: BaseProducer = config
        .create()
        .map_err(|e| env.cluster.error("cannot create a producer", e))?;
    let payload = vec![0x5a_u8; bytes];
    let keys: Vec<String> = (0..1000).map(|i| format!("{}", 1_000_000 + i)).collect();
    let began = Instant::now();
    for i in 0..events {
        let key = &keys[(i % 1000).sat_usize()];
        while producer
            .send(BaseRecord::<str, [u8]>::to(topic).key(key).payload(&payload))
            .is_err()
        {
            producer.poll(Duration::from_millis(1));
        }
        producer.poll(Duration::ZERO);
    }
    let _ = producer.flush(Duration::from_secs(60));
    Ok(events.to_f64() / began.elapsed().as_secs_f64())
}

/// Runs the benchmark: `events` messages for A and about as many for B,
/// each [`ROUNDS`] times.
pub fn run(env: &Environment, options: &LoadOptions, events: u64, accounts: u64) -> Result<BenchResult> {
    let pool = pool(env, options, options.engine.seed)?;
    let (rss_before, rss_in_flight) = in_flight_memory(&pool, options, accounts);
    let per_flow = events_per_flow(&pool);
    let flows = ((events.to_f64()) / per_flow).ceil().sat_u64();

    // The harness alone, no broker.
    let acks = Arc::new(Acks::new(Instant::now()));
    let mut sink = NullSink(acks.clone());
    let stop = AtomicBool::new(false);
    let alone = engine::run(
        &pool,
        &unlimited(options, flows * 4, 0.0),
        &mut sink,
        &acks,
        &stop,
        &mut |_| (),
    );
    let harness_alone = alone.events_sent.to_f64() / alone.seconds.max(1e-9);

    // A and B take turns, `ROUNDS` times each on fresh topics, and the
    // medians are compared: the broker shares the machine, so a single
    // pair of runs is noisy, and running one always first would favour it.
    let mut raw_rates = Vec::new();
    let mut harness_rates = Vec::new();
    // Like with like: A sends what B sends on average.
    let bytes = pool.mean_event_bytes().round().max(1.0).sat_usize();
    for round in 0..ROUNDS {
        raw_rates.push(raw_rate(
            env,
            options,
            events,
            &format!("{}-bench-raw-{round}", options.topic),
            bytes,
        )?);
        let topic = format!("{}-bench-harness-{round}", options.topic);
        env.cluster.create_topic(&topic, options.partitions)?;
        let acks = Arc::new(Acks::new(Instant::now()));
        let mut sink = KafkaSink::new(
            &env.cluster,
            &options.producer,
            std::slice::from_ref(&topic),
            acks.clone(),
        )?;
        // Timed as A is: from the first send to the last acknowledgement.
        let began = Instant::now();
        engine::run(
            &pool,
            &unlimited(options, flows, 0.0),
            &mut sink,
            &acks,
            &stop,
            &mut |_| (),
        );
        let acknowledged = acks.acknowledged.load(std::sync::atomic::Ordering::Relaxed);
        harness_rates.push(acknowledged.to_f64() / began.elapsed().as_secs_f64());
    }
    let (raw, harness) = (median(raw_rates), median(harness_rates));
    Ok(BenchResult {
        raw_events_per_second: raw,
        harness_events_per_second: harness,
        harness_event_bytes: pool.mean_event_bytes(),
        harness_alone_events_per_second: harness_alone,
        accounts_in_flight: accounts,
        rss_mb_in_flight: rss_in_flight,
        rss_mb_before: rss_before,
    })
}

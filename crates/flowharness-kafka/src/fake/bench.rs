//! `fake --bench N`: the fake against a requester in the same process, on
//! topics of its own. N requests of the first rule go at full speed; the
//! fake answers until it has taken all N. The figures: requests answered
//! per second (from the first request read to the last reply
//! acknowledged) and request-to-reply latency. With a rate, the requests
//! are paced instead, as a service would send them, and the latency is the
//! service's (no queue of requests in front of the fake).
//!
//! Either way the run is an accounting check too: every request sent is
//! taken, every one replied to or omitted as planned, and the reply topics
//! hold exactly the reply events the broker acknowledged.

use crate::num::Cast as _;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::{FakeOptions, FakeReport, Responder, Rules, requests};
use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::kafka::Environment;
use crate::kafka::producer::{Outgoing, Producer, ProducerOptions};

/// A request ready to send: key, bytes, headers.
type Encoded = (Option<String>, Vec<u8>, Vec<(String, String)>);

/// The target the issue sets: requests answered per second on the embedded broker.
pub const TARGET_PER_SECOND: f64 = 20_000.0;

/// A bench run's figures.
#[derive(Debug, Clone)]
pub struct FakeBench {
    pub requests: u64,
    /// Reply events per request, on average.
    pub events_per_reply: f64,
    pub per_second: f64,
    pub send_seconds: f64,
    /// Requests per second asked for; `None` is full speed.
    pub rate: Option<f64>,
    /// Requests the broker acknowledged to the requester.
    pub sent: u64,
    /// Messages the reply topics hold after the run (requests excluded
    /// where a reply topic is the request topic).
    pub held: u64,
    pub report: FakeReport,
}

impl FakeBench {
    /// Every request sent was taken and settled, and the broker holds
    /// exactly the replies the fake counted.
    pub fn exact(&self) -> bool {
        let r = &self.report;
        r.balanced() && r.pending == 0 && r.requests == self.sent && self.held == r.acknowledged && r.failed == 0
    }
}

impl fmt::Display for FakeBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.report)?;
        let verdict = match self.rate {
            Some(r) => format!("paced at {r:.0}/s: the target is for full speed"),
            None if self.per_second >= TARGET_PER_SECOND => "met".to_string(),
            None => "GAP".to_string(),
        };
        writeln!(
            f,
            "fake bench: {} requests ({:.1} reply events each) answered at {:.0} requests/s (target ≥ {:.0}: {verdict}); requests sent in {:.2}s",
            self.requests, self.events_per_reply, self.per_second, TARGET_PER_SECOND, self.send_seconds
        )?;
        let pace = match self.rate {
            Some(r) => format!("at {r:.0} requests/s paced"),
            None => "at full speed (queueing included)".to_string(),
        };
        writeln!(
            f,
            "fake bench: request-to-reply latency {pace}: p50 {:.1} ms, p99 {:.1} ms",
            self.report.latency.p50_ms, self.report.latency.p99_ms
        )?;
        writeln!(
            f,
            "fake bench: accounting {}: {} requests acknowledged to the requester, {} taken; {} reply events acknowledged, {} held on the reply topics",
            if self.exact() { "exact" } else { "NOT EXACT" },
            self.sent,
            self.report.requests,
            self.report.acknowledged,
            self.held
        )
    }
}

/// Runs the bench: `n` requests of the first rule, at full speed or at
/// `rate` requests per second.
pub fn run(
    env: &Environment,
    spec: &FlowSpec,
    rules: &Rules,
    options: &FakeOptions,
    n: u64,
    rate: Option<f64>,
) -> Result<FakeBench> {
    if let Some(r) = rate
        && !(r > 0.0 && r.is_finite())
    {
        return Err(Error::Usage(format!("fake --rate: expected a number > 0, found {r}")));
    }
    // Topics of its own, so nothing else is read or answered.
    let tag = format!("bench-{}-{}", std::process::id(), options.seed);
    let mut rules = rules.clone();
    for r in &mut rules.rules {
        r.topic = format!("{}-{tag}", r.topic);
    }
    for t in &mut rules.reply_topics {
        *t = format!("{t}-{tag}");
    }
    let rule = rules
        .rules
        .first()
        .ok_or_else(|| Error::Usage("fake --bench: no rule".into()))?;
    let generator = FlowGenerator::new(
        spec,
        FlowOptions {
            flows: 1,
            mix: Mix::uniform(spec),
            hints: options.hints.clone(),
            jitter: 0.5,
            time_scale: 1.0,
        },
    )?;
    let responder = Responder::new(spec, &rules, generator, options.seed, 0.0);
    let pool: Vec<requests::Outgoing> = requests::sample(spec, rule, &options.hints, 1000, options.seed)?
        .into_iter()
        .filter(|r| requests::taken_by(&responder, rule, 0, r))
        .collect();
    if pool.is_empty() {
        return Err(Error::Usage(format!(
            "fake --bench: no generated request is taken by rule {} (see its `when`)",
            rule.name
        )));
    }
    env.cluster.create_topic(&rule.topic, options.partitions)?;
    let encoder = requests::encoder(env, spec, rule)?;
    let encoded: Vec<Encoded> = pool
        .iter()
        .map(|r| Ok((r.key.clone(), encoder.encode(&r.value)?, r.headers.clone())))
        .collect::<Result<_>>()?;
    let fake_options = FakeOptions {
        group: format!("flowharness-fake-{tag}"),
        requests: Some(n),
        duration: None,
        time_scale: 0.0,
        ..options.clone()
    };
    let stop = AtomicBool::new(false);
    let (report, send_seconds, sent) = std::thread::scope(|scope| -> Result<(FakeReport, f64, u64)> {
        let fake = scope.spawn(|| super::run(env, spec, &rules, &fake_options, &stop, &mut |_| {}));
        let started = Instant::now();
        let mut producer = Producer::new(
            &env.cluster,
            &ProducerOptions::for_load(std::time::Duration::from_secs(60)),
        )?;
        for i in 0..n.sat_usize() {
            if let Some(r) = rate
                && i % 50 == 0
            {
                // Paced in steps of 50: each step waits for its due time.
                let due = started + std::time::Duration::from_secs_f64(i.to_f64() / r);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let (key, payload, headers) = &encoded[i % encoded.len()];
            let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
            producer.send(&Outgoing {
                topic: &rule.topic,
                partition: None,
                key: key.as_deref().map(str::as_bytes),
                payload: Some(payload),
                headers: &headers,
            });
        }
        let delivery = producer.finish();
        let send_seconds = started.elapsed().as_secs_f64();
        if delivery.failed > 0 {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let report = fake
            .join()
            .map_err(|_| Error::internal("fake --bench: the fake's thread panicked"))??;
        Ok((report, send_seconds, delivery.acknowledged))
    })?;
    let mut held = 0u64;
    let mut seen = std::collections::BTreeSet::new();
    for t in &rules.reply_topics {
        if !seen.insert(t.as_str()) {
            continue;
        }
        let on_topic: i64 = crate::kafka::observer::end_offsets(&env.cluster, t)?
            .iter()
            .map(|(_, end)| *end)
            .sum();
        held += on_topic.max(0).sat_u64();
        if *t == rule.topic {
            held = held.saturating_sub(sent);
        }
    }
    let per_second = if report.active_seconds > 0.0 {
        report.requests.to_f64() / report.active_seconds
    } else {
        0.0
    };
    Ok(FakeBench {
        requests: report.requests,
        events_per_reply: if report.replied > 0 {
            report.reply_events.to_f64() / report.replied.to_f64()
        } else {
            0.0
        },
        per_second,
        send_seconds,
        rate,
        sent,
        held,
        report,
    })
}

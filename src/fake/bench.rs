//! `fake --bench N`: the fake against a requester in the same process, on
//! topics of its own. N requests of the first rule go at full speed; the
//! fake answers until it has taken all N. The figures: requests answered
//! per second (from the first request read to the last reply
//! acknowledged) and request-to-reply latency.

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
    pub report: FakeReport,
}

impl fmt::Display for FakeBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.report)?;
        writeln!(
            f,
            "fake bench: {} requests ({:.1} reply events each) answered at {:.0} requests/s (target ≥ {:.0}: {}); requests sent in {:.2}s",
            self.requests,
            self.events_per_reply,
            self.per_second,
            TARGET_PER_SECOND,
            if self.per_second >= TARGET_PER_SECOND {
                "met"
            } else {
                "GAP"
            },
            self.send_seconds
        )?;
        writeln!(
            f,
            "fake bench: request-to-reply latency at full speed (queueing included): p50 {:.1} ms, p99 {:.1} ms",
            self.report.latency.p50_ms, self.report.latency.p99_ms
        )
    }
}

/// Runs the bench: `n` requests of the first rule.
pub fn run(env: &Environment, spec: &FlowSpec, rules: &Rules, options: &FakeOptions, n: u64) -> Result<FakeBench> {
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
    let (report, send_seconds) = std::thread::scope(|scope| -> Result<(FakeReport, f64)> {
        let fake = scope.spawn(|| super::run(env, spec, &rules, &fake_options, &stop, &mut |_| {}));
        let started = Instant::now();
        let mut producer = Producer::new(
            &env.cluster,
            &ProducerOptions::for_load(std::time::Duration::from_secs(60)),
        )?;
        for i in 0..n as usize {
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
            .map_err(|_| Error::Usage("fake --bench: the fake's thread panicked".into()))??;
        Ok((report, send_seconds))
    })?;
    let per_second = if report.active_seconds > 0.0 {
        report.requests as f64 / report.active_seconds
    } else {
        0.0
    };
    Ok(FakeBench {
        requests: report.requests,
        events_per_reply: if report.replied > 0 {
            report.reply_events as f64 / report.replied as f64
        } else {
            0.0
        },
        per_second,
        send_seconds,
        report,
    })
}

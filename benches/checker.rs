//! The flow checker: events checked per second over 1,000,000 interleaved
//! migration events, and its memory per open flow.
//!
//! A base set of generated flows is copied under fresh keys, flow ids and
//! event ids until a million events went through one checker; the time to
//! make the copies is measured apart and left out. Memory per open flow is
//! the growth of resident memory while 100,000 flows that never end are
//! opened, divided by their number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "a benchmark: a failed unwrap stops it with its message; casts turn counts into rates"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowharness::flow::checker::{CheckOptions, Checker, Observed};
use flowharness::flow::fixture_io::as_observed;
use flowharness::flow::generator::{FlowGenerator, FlowOptions, Mix};
use flowharness::flow::shipped;
use flowharness::generate::hints::Hints;
use serde_json::Value;

/// Resident memory of this process, in bytes (Linux).
fn rss() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<isize>().ok());
    kb.unwrap_or(0) * 1024
}

const TOTAL: usize = 1_000_000;

fn body(v: &mut Value) -> &mut Value {
    v["event"]
        .as_object_mut()
        .and_then(|m| m.values_mut().next())
        .expect("a migration event")
}

/// Gives copy `c` of an event its own key, flow id and event id.
fn relabel(o: &mut Observed, c: usize) {
    let key = format!("{}{c:04}", o.key.as_deref().unwrap_or(""));
    if let Ok(v) = &mut o.value {
        let b = body(v);
        b["accountId"] = Value::String(key.clone());
        let id = format!("{}-{c}", b["enrollmentId"].as_str().unwrap_or(""));
        b["enrollmentId"] = Value::String(id);
        let id = format!("{}-{c}", b["metadata"]["eventId"].as_str().unwrap_or(""));
        b["metadata"]["eventId"] = Value::String(id);
    }
    o.key = Some(key);
}

fn main() {
    let spec = shipped::resolve("account-migration").expect("shipped flow");
    let hints = Arc::new(Hints::builtin(1_790_000_000_000));
    let mix = Mix::parse(&spec, "happy=80,cancel=15,rollback=5").expect("mix");
    let options = FlowOptions {
        flows: 4_000,
        mix,
        hints,
        jitter: 0.5,
        time_scale: 1.0,
    };
    let generator = FlowGenerator::new(&spec, options).expect("generator");
    let started = Instant::now();
    let base = as_observed(&generator.generate(1).expect("flows"), 6);
    println!("base set: {} events generated in {:.1?}", base.len(), started.elapsed());

    let copies = TOTAL.div_ceil(base.len());
    let mut relabel_time = Duration::ZERO;
    let mut check_time = Duration::ZERO;
    let mut checked = 0usize;
    let mut checker = Checker::new(&spec, CheckOptions::default());
    // Copies are made in batches of 256 events and checked right away, as a
    // consumer checks what it just decoded; only the checking is timed.
    for c in 0..copies {
        for batch in base.chunks(256) {
            if checked >= TOTAL {
                break;
            }
            let t = Instant::now();
            let mut chunk = batch.to_vec();
            for o in &mut chunk {
                relabel(o, c);
            }
            relabel_time += t.elapsed();
            let t = Instant::now();
            for o in chunk.iter().take(TOTAL - checked) {
                checker.observe(o);
            }
            check_time += t.elapsed();
            checked += chunk.len().min(TOTAL - checked);
        }
    }
    let open = checker.open_flows();
    let report = checker.finish();
    assert_eq!(
        report.errors,
        0,
        "generated flows check clean: {:?}",
        report.findings.first()
    );
    let rate = checked as f64 / check_time.as_secs_f64();
    println!(
        "checked {checked} interleaved events in {check_time:.2?} (copies made in {relabel_time:.2?}, not counted)"
    );
    println!("flow checker: {rate:.0} events/s on one core; {open} flows open at the end");

    // Memory per open flow: Scheduled events of flows that never end.
    let mut keys = std::collections::HashSet::new();
    let scheduled: Vec<Observed> = base
        .iter()
        .filter(|o| {
            o.value.as_ref().is_ok_and(|v| {
                v["event"]
                    .as_object()
                    .is_some_and(|m| m.keys().any(|k| k.ends_with("ScheduledEvent")))
            })
        })
        .filter(|o| keys.insert(o.key.clone()))
        .cloned()
        .collect();
    let mut checker = Checker::new(
        &spec,
        CheckOptions {
            dedupe_window: 0,
            ..CheckOptions::default()
        },
    );
    let mut opened = 0usize;
    let mut grown = 0isize;
    let mut c = 0;
    // Chunks stay alive, so memory they free is not reused by flow state.
    let mut kept = Vec::new();
    while opened < 100_000 {
        let mut chunk = scheduled.clone();
        for o in &mut chunk {
            relabel(o, c);
        }
        let before = rss();
        for o in &chunk {
            checker.observe(o);
        }
        grown += rss() - before;
        opened += chunk.len();
        kept.push(chunk);
        c += 1;
    }
    assert_eq!(checker.open_flows(), opened);
    println!(
        "memory per open flow: {} bytes ({opened} flows open)",
        grown / opened as isize
    );
}

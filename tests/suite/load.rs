//! `flowharness load`: a short run on the embedded broker loses nothing and
//! breaks no rule; its JSON report matches the committed schema and its
//! HTML page draws its plots; the rate limiter holds its target; shards
//! split the keyspace and their reports merge.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use flowharness::flow::generator::Mix;
use flowharness::flow::{FlowSpec, shipped};
use flowharness::generate::hints::Hints;
use flowharness::kafka::Environment;
use flowharness::kafka::producer::ProducerOptions;
use flowharness::load::engine::{self, EngineOptions, EngineResult};
use flowharness::load::rate::Schedule;
use flowharness::load::sink::{Acks, Sink};
use flowharness::load::templates::Pool;
use flowharness::load::{LoadOptions, LoadReport, report};

fn migration() -> Arc<FlowSpec> {
    Arc::new(shipped::resolve("account-migration").unwrap())
}

fn options(topic: &str, rate: &str, seconds: f64, shard: (u64, u64)) -> LoadOptions {
    let spec = migration();
    LoadOptions {
        topic: topic.into(),
        partitions: 3,
        rate: rate.into(),
        engine: EngineOptions {
            schedule: Schedule::parse(rate, seconds).unwrap(),
            duration: Duration::from_secs_f64(seconds),
            max_flows: None,
            accounts: 10_000,
            shard,
            seed: 7,
            // A day of flow time in 10 ms: flows finish soon after they start.
            time_scale: 8_640_000.0,
            max_in_flight: 100_000,
            flush_timeout: Duration::from_secs(30),
        },
        mix: Mix::parse(&spec, "happy=80,cancel=15,rollback=5").unwrap(),
        flow: spec,
        hints: Arc::new(Hints::builtin(1_790_000_000_000)),
        pool_size: 64,
        observe: true,
        consumer_group: None,
        drain_timeout: Duration::from_secs(5),
        producer: ProducerOptions::for_load(Duration::from_secs(30)),
    }
}

fn load(env: &Environment, options: &LoadOptions) -> LoadReport {
    flowharness::load::run(env, options, &AtomicBool::new(false), &mut |_| ()).unwrap()
}

#[test]
fn every_event_design_loads_clean_with_its_stamps_valid() {
    // An envelope with a union, an enum status, one topic of several
    // record types, a saga across an Avro and a JSON Schema topic, and
    // Protobuf: a oneof state, and an enum state with an imported file.
    let env = Environment::embedded().unwrap();
    let oneof = common::repo_path("examples/protobuf/account-migration.toml");
    let proto_enum = common::repo_path("tests/proto/order-status.toml");
    for (name, flow) in [
        ("order-saga", "order-saga"),
        ("payment-lifecycle", "payment-lifecycle"),
        ("account-lifecycle", "account-lifecycle"),
        ("checkout-saga", "checkout-saga"),
        ("proto-oneof", oneof.to_str().unwrap()),
        ("proto-enum", proto_enum.to_str().unwrap()),
    ] {
        let spec = Arc::new(shipped::resolve(flow).unwrap());
        let mut o = options(&format!("load-{name}"), "200/s", 2.0, (0, 1));
        o.mix = Mix::uniform(&spec);
        o.flow = spec;
        let r = load(&env, &o);
        let observed = r.observed.as_ref().unwrap();
        assert_eq!(r.flows.started, 400, "{name}: {r:#?}");
        assert_eq!(
            (observed.lost, observed.violations, observed.warnings),
            (0, 0, 0),
            "{name}: {:#?}",
            observed.findings
        );
        assert_eq!(observed.messages, r.events.sent, "{name}");
        // The Protobuf migration restarts a cancelled or rolled-back flow
        // as a happy one: two complete flows.
        let restarts = match name {
            "proto-oneof" => r.flows.by_path["cancel"] + r.flows.by_path["rollback"],
            _ => 0,
        };
        assert_eq!(
            observed.complete_by_path.values().sum::<u64>(),
            400 + restarts,
            "{name}: {observed:#?}"
        );
    }
}

#[test]
fn a_short_load_on_the_embedded_broker_loses_nothing_and_breaks_no_rule() {
    let env = Environment::embedded().unwrap();
    let r = load(&env, &options("load-short", "100/s", 3.0, (0, 1)));
    assert_eq!(r.flows.started, 300, "{r:#?}");
    assert_eq!(r.flows.finished_sending, 300);
    assert_eq!(
        (r.events.failed, r.events.acknowledged),
        (0, r.events.sent),
        "{:?}",
        r.failures
    );
    assert!(!r.interrupted && !r.failed(), "{r:#?}");
    let observed = r.observed.as_ref().unwrap();
    assert_eq!((observed.lost, observed.violations), (0, 0), "{:#?}", observed.findings);
    assert_eq!(observed.messages, r.events.sent);
    assert_eq!(r.flows.by_path.values().sum::<u64>(), 300);
    // A cancelled or rolled-back flow restarts as a happy one: two flows.
    let restarts = r.flows.by_path["cancel"] + r.flows.by_path["rollback"];
    assert_eq!(
        observed.complete_by_path.values().sum::<u64>(),
        300 + restarts,
        "{observed:#?}"
    );
    // Every event type was timed end to end, and the histograms hold them all.
    assert!(observed.end_to_end.len() >= 5, "{:?}", observed.end_to_end.keys());
    let timed: u64 = observed.end_to_end.values().map(|l| l.count).sum();
    assert_eq!(timed, r.events.sent);
    assert_eq!(r.ack_latency.count, r.events.acknowledged);
    assert!(r.ack_latency.p50_ms <= r.ack_latency.p99_ms && r.ack_latency.p99_ms <= r.ack_latency.max_ms);

    // The JSON report matches its schema, and reads back as it was written.
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("load.json");
    report::save(&r, &json_path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let schema = report::report_schema().unwrap();
    let problems: Vec<String> = schema
        .validate(&json)
        .iter()
        .map(|v| v.to_diagnostic().to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(report::load(&json_path).unwrap(), r);

    // The page draws its charts from this run, with nothing fetched:
    // throughput, ack latency, the distribution, two bar charts and the
    // observer's two charts; one curve per event type timed end to end.
    let html = report::html(&r);
    assert_eq!(html.matches("<svg").count(), 7, "{html}");
    let dist = html
        .split("id=\"distribution\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert_eq!(dist.matches("<polyline").count(), 1 + observed.end_to_end.len());
    assert!(!observed.timeline.is_empty() && observed.caught_up_seconds.is_some());
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<script src"));
    let mut summary = Vec::new();
    report::write_summary(&r, &mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains(" messages, 0 lost, 0 violations"), "{summary}");
}

#[test]
fn the_report_schema_rejects_a_report_missing_its_counts() {
    let schema = report::report_schema().unwrap();
    let env = Environment::embedded().unwrap();
    let mut o = options("load-schema", "20/s", 1.0, (0, 1));
    o.observe = false;
    let r = load(&env, &o);
    let mut json = serde_json::to_value(&r).unwrap();
    assert!(schema.validate(&json).is_empty());
    json.as_object_mut().unwrap().remove("events");
    json["flows"]["started"] = serde_json::json!(-1);
    let problems: Vec<String> = schema
        .validate(&json)
        .iter()
        .map(|v| v.to_diagnostic().to_string())
        .collect();
    assert!(problems.iter().any(|p| p.contains("events")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("flows.started")), "{problems:#?}");
}

/// Keeps every key it is given; acknowledges at once.
struct Keys(Arc<Acks>, Vec<Vec<u8>>);

impl Sink for Keys {
    fn send(&mut self, key: &[u8], _: &[u8], _: i64, intended_us: u64) {
        self.1.push(key.to_vec());
        self.0.ack(intended_us);
    }
    fn poll(&mut self) {}
    fn in_flight(&self) -> u64 {
        0
    }
    fn finish(&mut self, _: Duration) {}
}

fn pool(o: &LoadOptions) -> Pool {
    let encode = |v: &serde_json::Value, _: usize| Ok(serde_json::to_vec(v).unwrap());
    Pool::build(&o.flow, &o.mix, o.hints.clone(), o.pool_size, 7, &encode).unwrap()
}

fn engine_run(o: &LoadOptions, pool: &Pool) -> (EngineResult, Vec<Vec<u8>>) {
    let acks = Arc::new(Acks::new(Instant::now()));
    let mut sink = Keys(acks.clone(), Vec::new());
    let r = engine::run(pool, &o.engine, &mut sink, &acks, &AtomicBool::new(false), &mut |_| ());
    (r, sink.1)
}

#[test]
fn the_rate_limiter_holds_its_target() {
    let o = options("unused", "2000/s", 5.0, (0, 1));
    let (r, _) = engine_run(&o, &pool(&o));
    assert_eq!(r.flows_started, 10_000);
    // Starts were spread over the run, not bunched at one end…
    assert!((r.starting_seconds - 5.0).abs() < 0.25, "{}", r.starting_seconds);
    // …and every whole second in the middle held 2000/s within 5%.
    let middle: Vec<u64> = r
        .timeline
        .iter()
        .filter(|t| (2..=4).contains(&t.t))
        .map(|t| t.flows_started)
        .collect();
    assert_eq!(middle.len(), 3, "{:?}", r.timeline);
    let mean = middle.iter().sum::<u64>() as f64 / middle.len() as f64;
    assert!((mean - 2000.0).abs() <= 100.0, "{middle:?}");
    assert!(
        r.timeline.iter().all(|t| t.target_flow_rate == Some(2000.0)),
        "{:?}",
        r.timeline
    );
}

#[test]
fn a_ramp_starts_as_many_flows_as_its_area() {
    let o = options("unused", "1000/s..3000/s", 4.0, (0, 1));
    let (r, _) = engine_run(&o, &pool(&o));
    // (1000 + 3000) / 2 × 4 s.
    assert_eq!(r.flows_started, 8_000);
    let per_second: Vec<u64> = r.timeline.iter().take(4).map(|t| t.flows_started).collect();
    assert!(per_second.windows(2).all(|w| w[0] < w[1]), "{per_second:?}");
}

#[test]
fn shards_take_disjoint_accounts_and_their_reports_merge() {
    let mut keys = Vec::new();
    for i in 0..2 {
        let mut o = options("unused", "max", 1.0, (i, 2));
        o.engine.max_flows = Some(2_000);
        o.engine.accounts = 1_000;
        o.engine.time_scale = 0.0;
        let (r, sent) = engine_run(&o, &pool(&o));
        assert_eq!(r.flows_started, 2_000);
        keys.push(sent.into_iter().collect::<HashSet<_>>());
    }
    assert_eq!(
        keys[0].len() + keys[1].len(),
        1_000,
        "every account of the keyspace, once"
    );
    assert!(keys[0].is_disjoint(&keys[1]));

    let env = Environment::embedded().unwrap();
    let shards: Vec<LoadReport> = (0..2)
        .map(|i| {
            let mut o = options("load-shards", "50/s", 1.0, (i, 2));
            o.observe = false;
            load(&env, &o)
        })
        .collect();
    let merged = report::merge(&shards).unwrap();
    assert_eq!(merged.flows.started, 100);
    assert_eq!(merged.events.sent, shards[0].events.sent + shards[1].events.sent);
    assert_eq!(merged.ack_latency.count, merged.events.acknowledged);
    assert_eq!(merged.shards.len(), 2);
    assert!(
        (merged.flows_per_second - 100.0).abs() < 5.0,
        "{}",
        merged.flows_per_second
    );
    let twice = report::merge(&[shards[0].clone(), shards[0].clone()]).unwrap_err();
    assert_eq!(twice.to_string(), "report merge: shard 0/2 given twice");
}

#[test]
fn a_stopped_run_says_so_and_keeps_what_it_did() {
    let env = Environment::embedded().unwrap();
    let o = options("load-stopped", "100/s", 30.0, (0, 1));
    let stop = AtomicBool::new(false);
    let mut tick = |t: &flowharness::load::metrics::Tick| {
        if t.t >= 1 {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let began = Instant::now();
    let r = flowharness::load::run(&env, &o, &stop, &mut tick).unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "stopping took {:?}",
        began.elapsed()
    );
    assert!(r.interrupted && r.failed(), "{r:#?}");
    assert!(r.flows.started > 0 && r.flows.started < 3000, "{}", r.flows.started);
    // What was sent before the stop is accounted for, none of it lost.
    assert_eq!(r.events.acknowledged + r.events.failed, r.events.sent);
    assert_eq!(r.observed.as_ref().unwrap().lost, 0);
}

#[test]
fn the_lag_of_a_consumer_group_is_followed_until_it_drains() {
    let env = Environment::embedded().unwrap();
    let mut o = options("load-lag", "50/s", 1.0, (0, 1));
    o.observe = false;
    o.consumer_group = Some("service-under-test".into());
    o.drain_timeout = Duration::from_secs(30);
    env.cluster.create_topic(&o.topic, o.partitions).unwrap();
    let (cluster, topic) = (env.cluster.clone(), o.topic.clone());
    let service = std::thread::spawn(move || {
        flowharness::kafka::lag::consume_and_commit(&cluster, "service-under-test", &topic, Duration::from_secs(30))
            .unwrap()
    });
    let r = load(&env, &o);
    let read = service.join().unwrap();
    let group = r.consumer_group.as_ref().unwrap();
    assert!(group.drained && group.remaining == 0, "{group:?}");
    assert_eq!(read, r.events.sent);
}

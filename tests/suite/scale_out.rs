//! Scale-out on the cluster, with no coordinator: three `load --shard i/3`
//! instances at once against one broker add up exactly when merged, and
//! three `verify --shard i/3` instances over a topic find exactly what one
//! instance reading every partition finds.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use flowharness::flow::generator::Mix;
use flowharness::flow::shipped;
use flowharness::generate::hints::Hints;
use flowharness::kafka::Environment;
use flowharness::kafka::producer::ProducerOptions;
use flowharness::load::engine::EngineOptions;
use flowharness::load::rate::Schedule;
use flowharness::load::{LoadOptions, LoadReport, report};

fn shard_options(topic: &str, shard: u64) -> LoadOptions {
    let spec = Arc::new(shipped::resolve("account-migration").unwrap());
    LoadOptions {
        topic: topic.into(),
        partitions: 3,
        rate: "200/s".into(),
        engine: EngineOptions {
            schedule: Schedule::parse("200/s", 2.0).unwrap(),
            duration: Duration::from_secs(2),
            max_flows: None,
            accounts: 30_000,
            shard: (shard, 3),
            seed: 11,
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

#[test]
fn three_load_shards_at_once_add_up_exactly_when_merged() {
    let env = Arc::new(Environment::embedded().unwrap());
    env.cluster.create_topic("scale-out-load", 3).unwrap();
    let shards: Vec<LoadReport> = (0..3)
        .map(|i| {
            let env = env.clone();
            std::thread::spawn(move || {
                flowharness::load::run(
                    &env,
                    &shard_options("scale-out-load", i),
                    &AtomicBool::new(false),
                    &mut |_| (),
                )
                .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for (i, s) in shards.iter().enumerate() {
        let o = s.observed.as_ref().unwrap();
        // Each shard's observer reads its own messages among the others'.
        assert_eq!(o.messages, s.events.acknowledged, "shard {i}: {o:#?}");
        assert_eq!((o.lost, o.violations), (0, 0), "shard {i}: {:?}", o.findings);
        assert!(s.events.sent > 0, "shard {i} sent nothing");
    }
    let merged = report::merge(&shards).unwrap();
    let sum = |f: fn(&LoadReport) -> u64| shards.iter().map(f).sum::<u64>();
    assert_eq!(merged.events.sent, sum(|r| r.events.sent));
    assert_eq!(merged.events.acknowledged, sum(|r| r.events.acknowledged));
    assert_eq!(merged.events.sent, merged.events.acknowledged + merged.events.failed);
    let observed = merged.observed.as_ref().unwrap();
    assert_eq!(observed.messages, merged.events.acknowledged);
    assert_eq!(observed.lost, 0);
    assert_eq!(observed.violations, 0);
    assert_eq!(merged.flows.started, sum(|r| r.flows.started));
    assert_eq!(merged.shards.len(), 3);
    // Everything on the topic is some shard's: nothing more, nothing less.
    let ends = flowharness::kafka::observer::end_offsets(&env.cluster, "scale-out-load").unwrap();
    let on_topic: i64 = ends.iter().map(|(_, high)| *high).sum();
    assert_eq!(u64::try_from(on_topic).unwrap(), merged.events.acknowledged);
}

/// Writes flows with faults to `topic`, as a faulty producer would: a flow
/// missing its second event, an event sent twice, and bytes no schema
/// reads; each key on the partition the default partitioner gives it.
fn plant_faults(env: &Environment, topic: &str) {
    use flowharness::kafka::producer::{Outgoing, Producer, ProducerOptions};
    let spec = shipped::resolve("account-migration").unwrap();
    let id = env.registry.register(&format!("{topic}-value"), spec.schema()).unwrap();
    let flows = flowharness::flow::generator::generate(&spec, &common::flow_options(&spec, 6, "happy=1"), 21).unwrap();
    let mut keys: Vec<&str> = flows.iter().map(|m| m.key.as_str()).collect();
    keys.dedup();
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    let mut send = |key: &str, payload: &[u8]| {
        producer.send(&Outgoing {
            topic,
            partition: None,
            key: Some(key.as_bytes()),
            payload: Some(payload),
            headers: &[],
        });
    };
    let mut nth: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &flows {
        let n = nth.entry(m.key.as_str()).or_default();
        *n += 1;
        let payload = flowharness::verify::encode(spec.schema(), id, &m.value).unwrap();
        if m.key == keys[0] && *n == 2 {
            continue; // skipped: the next event's transition is not allowed
        }
        send(&m.key, &payload);
        if m.key == keys[1] && *n == 1 {
            send(&m.key, &payload); // the same event id twice
        }
    }
    send(keys[2], &[0, 0, 0, 0, 1, 0xff, 0xff]);
    assert_eq!(producer.finish().failed, 0);
}

/// Runs `flowharness verify` in-process; its exit code and output.
fn verify(env: &Environment, topic: &str, extra: &[&str]) -> (i32, String) {
    let bootstrap = env.cluster.bootstrap.clone();
    let registry = env.registry_url();
    let mut args = vec![
        "verify",
        "--flow",
        "account-migration",
        "--topic",
        topic,
        "--from-beginning",
        "--timeout",
        "60s",
        "--bootstrap-servers",
        &bootstrap,
        "--registry-url",
        &registry,
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = common::flowharness(&args);
    (code, format!("{out}{err}"))
}

/// The findings of a verify's output, one line each, sorted.
fn findings(out: &str) -> Vec<String> {
    let mut f: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("error") || l.starts_with("warning"))
        .map(str::to_string)
        .collect();
    f.sort();
    f
}

/// `violations: N (rule n, …)` as a map of rule to count, and N.
fn counts(out: &str) -> (u64, BTreeMap<String, u64>) {
    let line = out.lines().find(|l| l.starts_with("violations: ")).unwrap();
    let rest = line.strip_prefix("violations: ").unwrap();
    let (n, rules) = rest.split_once(" (").unwrap();
    let rules = rules.split(')').next().unwrap();
    let map = rules
        .split(", ")
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (name, n) = r.rsplit_once(' ').unwrap();
            (name.to_string(), n.parse().unwrap())
        })
        .collect();
    (n.parse().unwrap(), map)
}

#[test]
fn three_verify_instances_by_partition_find_what_one_finds() {
    let env = Environment::embedded().unwrap();
    let topic = "scale-out-verify";
    // A topic with faults in it: flows from a produce run, then events
    // out of order and a flow's event on a second partition.
    let (code, out, err) = common::flowharness(&[
        "produce",
        "--flow",
        "account-migration",
        "--flows",
        "120",
        "--seed",
        "5",
        "--topic",
        topic,
        "--partitions",
        "6",
        "--bootstrap-servers",
        &env.cluster.bootstrap,
        "--registry-url",
        &env.registry_url(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    plant_faults(&env, topic);

    let (one_code, one) = verify(&env, topic, &[]);
    assert_eq!(one_code, 1, "the planted faults are found: {one}");
    let (one_total, one_rules) = counts(&one);
    assert!(one_total >= 2, "{one}");

    let mut all = Vec::new();
    let mut total = 0;
    let mut rules: BTreeMap<String, u64> = BTreeMap::new();
    let mut read = 0;
    for i in 0..3 {
        let shard = format!("{i}/3");
        let (_, out) = verify(&env, topic, &["--shard", &shard]);
        let expected: Vec<String> = (0..6).filter(|p| p % 3 == i).map(|p| p.to_string()).collect();
        assert!(
            out.contains(&format!("(partitions {} only)", expected.join(","))),
            "{out}"
        );
        let (n, by) = counts(&out);
        total += n;
        for (r, c) in by {
            *rules.entry(r).or_default() += c;
        }
        all.extend(findings(&out));
        read += out
            .lines()
            .find_map(|l| l.strip_prefix("read "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap();
    }
    all.sort();
    assert_eq!(total, one_total);
    assert_eq!(rules, one_rules);
    assert_eq!(all, findings(&one));
    let one_read: u64 = one
        .lines()
        .find_map(|l| l.strip_prefix("read "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(read, one_read, "every message read once across the instances");

    // A partition the topic lacks, and --partitions with --shard, are bad input.
    let (code, out) = verify(&env, topic, &["--partitions", "0-6"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("partition 6 does not exist"), "{out}");
    let both = <flowharness::cli::Cli as clap::Parser>::try_parse_from([
        "flowharness",
        "verify",
        "--flow",
        "account-migration",
        "--topic",
        topic,
        "--partitions",
        "0",
        "--shard",
        "0/2",
    ])
    .unwrap_err();
    assert_eq!(both.exit_code(), 2);
    assert!(both.to_string().contains("cannot be used with"), "{both}");
    let (code, out) = verify(&env, topic, &["--shard", "3/3"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--shard: expected i/n"), "{out}");
}

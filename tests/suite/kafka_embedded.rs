//! The Kafka runtime on the embedded broker and registry: flows produced
//! and observed with nothing lost or doubled, the seed fixture produced as
//! it is, a broken flow from a plain producer caught by `verify`, and clear
//! errors for unreachable brokers.

use crate::common;

use std::time::{Duration, Instant};

use common::repo_path;
use flowharness::flow::checker::{CheckOptions, Rule};
use flowharness::flow::generator::FlowGenerator;
use flowharness::flow::{FlowSpec, shipped};
use flowharness::kafka::observer::{self, Decoder, ObserveOptions};
use flowharness::kafka::producer::{Outgoing, Producer, ProducerOptions};
use flowharness::kafka::{Connect, Environment};
use flowharness::registry::SubjectStrategy;
use flowharness::verify::{Message, ProduceRun, RunReport, encode, produce_and_check};

fn run(env: &Environment, spec: &FlowSpec, topic: &str, flows: usize, mix: &str, seed: u64) -> RunReport {
    let options = common::flow_options(spec, flows, mix);
    let messages = FlowGenerator::new(spec, options)
        .unwrap()
        .generate(seed)
        .unwrap()
        .into_iter()
        .map(|k| Message::keyed(k.key, k.value))
        .collect();
    let run = ProduceRun {
        topic: topic.into(),
        others: Vec::new(),
        partitions: 3,
        schema: spec.schema().clone(),
        messages,
        seed: Some(seed),
        strategy: SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(30),
        keep_observed: false,
    };
    produce_and_check(env, &run, Some(spec), CheckOptions::default()).unwrap()
}

fn assert_clean(r: &RunReport) {
    assert_eq!(r.delivery.failed, 0, "{:?}", r.delivery.failures);
    assert_eq!(r.delivery.produced, r.delivery.acknowledged);
    assert_eq!((r.lost, r.duplicated), (0, 0));
    assert_eq!(r.observation.messages, r.delivery.produced);
    assert!(r.check.findings.is_empty(), "{:#?}", r.check.findings);
}

#[test]
fn every_migration_path_and_the_catalog_go_through_the_broker_intact() {
    let env = Environment::embedded().unwrap();
    let migration = shipped::resolve("account-migration").unwrap();
    for (topic, mix) in [("happy", "happy=1"), ("cancel", "cancel=1"), ("rollback", "rollback=1")] {
        let r = run(&env, &migration, &format!("migration-{topic}"), 8, mix, 5);
        assert_clean(&r);
        assert_eq!(
            r.check.complete_by_path.get(topic),
            Some(&8),
            "{:?}",
            r.check.complete_by_path
        );
        assert_eq!(r.observation.per_partition.len(), 3, "keys spread over the partitions");
    }
    let catalog = shipped::resolve("subscription-catalog").unwrap();
    let r = run(
        &env,
        &catalog,
        "subscriptions",
        10,
        "subscription=3,update=1,group=1",
        2,
    );
    assert_clean(&r);
}

#[test]
fn the_seed_fixture_is_produced_as_it_is() {
    let env = Environment::embedded().unwrap();
    let fixture = flowharness::fixture::Fixture::load(&repo_path("fixtures/complex.json")).unwrap();
    let entry = &fixture.entries[0];
    let run = ProduceRun {
        topic: entry.topic.clone(),
        others: Vec::new(),
        partitions: 1,
        schema: (*entry.schema).clone(),
        messages: entry
            .messages
            .iter()
            .map(|m| Message {
                partition: entry.partition,
                value: m.clone(),
                ..Message::default()
            })
            .collect(),
        seed: None,
        strategy: SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(30),
        keep_observed: false,
    };
    let spec = shipped::resolve("account-migration").unwrap();
    let r = produce_and_check(&env, &run, Some(&spec), CheckOptions::default()).unwrap();
    assert_eq!((r.delivery.acknowledged, r.lost, r.duplicated), (1, 0, 0));
    assert_eq!(r.check.errors, 1);
    assert!(r.check.has(Rule::UnknownFlow));
    // Without a flow, the message is judged by its schema alone: clean.
    let r = produce_and_check(&env, &run, None, CheckOptions::default()).unwrap();
    assert!(!r.failed(), "{:?}", r.check.findings);
}

#[test]
fn verify_catches_a_broken_flow_from_a_plain_producer() {
    let env = Environment::embedded().unwrap();
    let spec = shipped::resolve("account-migration").unwrap();
    let topic = "written-by-someone-else";
    env.cluster.create_topic(topic, 1).unwrap();
    let id = env.registry.register(&format!("{topic}-value"), spec.schema()).unwrap();
    // A happy flow with BalanceRetrieved left out, produced by hand.
    let options = common::flow_options(&spec, 1, "happy=1");
    let flow = FlowGenerator::new(&spec, options).unwrap().generate(1).unwrap();
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    for (i, m) in flow.iter().enumerate() {
        if i == 1 {
            continue;
        }
        let payload = encode(spec.schema(), id, &m.value).unwrap();
        producer.send(&Outgoing {
            topic,
            partition: None,
            key: Some(m.key.as_bytes()),
            payload: Some(&payload),
            headers: &[],
        });
    }
    // And bytes that are no Confluent-framed Avro at all.
    producer.send(&Outgoing {
        topic,
        partition: None,
        key: Some(b"x"),
        payload: Some(b"\x00\x00\x00\x00\x01garbage"),
        headers: &[],
    });
    producer.send(&Outgoing {
        topic,
        partition: None,
        key: Some(b"y"),
        payload: None,
        headers: &[],
    });
    let delivery = producer.finish();
    assert_eq!(delivery.acknowledged, 5);

    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let options = ObserveOptions {
        start: None,
        expected: None,
        until_end: true,
        timeout: Duration::from_secs(30),
        run_id: None,
        partitions: None,
    };
    let mut checker = flowharness::flow::checker::Checker::new(&spec, CheckOptions::default());
    let seen = observer::observe(&env.cluster, topic, &decoder, &options, &mut |o, _| checker.observe(&o)).unwrap();
    assert_eq!(seen.messages, 5);
    let report = checker.finish();
    assert!(report.has(Rule::TransitionNotAllowed), "{:#?}", report.findings);
    assert_eq!(
        report.counts.get(&Rule::SchemaInvalid),
        Some(&2),
        "{:#?}",
        report.findings
    );
    let tombstone = report
        .findings
        .iter()
        .find(|f| f.message.contains("tombstone"))
        .unwrap();
    assert_eq!((tombstone.partition, tombstone.offset), (0, 4));
}

#[test]
fn an_unreachable_broker_is_a_clear_error_within_the_timeout() {
    let started = Instant::now();
    let err = Environment::connect(&Connect {
        bootstrap: Some("127.0.0.1:1".into()),
        timeout: Some(Duration::from_secs(2)),
        ..Connect::default()
    })
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert!(err.starts_with("kafka 127.0.0.1:1: no answer within 2s"), "{err}");
}

/// Confluent's own Python client (confluent-kafka, installed by CI from
/// PyPI) reads our broker and decodes our messages through our registry.
#[test]
fn a_third_party_confluent_client_decodes_our_messages_through_our_registry() {
    let has_client = std::process::Command::new("python3")
        .args(["-c", "import confluent_kafka, fastavro"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_client {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs confluent-kafka; it must be importable"
        );
        println!("skipped: python3 with confluent-kafka[avro,schemaregistry] is not installed");
        return;
    }
    let env = Environment::embedded().unwrap();
    let spec = shipped::resolve("account-migration").unwrap();
    let r = run(&env, &spec, "third-party", 3, "happy=1", 8);
    assert_clean(&r);
    let out = std::process::Command::new("python3")
        .arg(repo_path("tests/third_party/confluent_consume.py"))
        .args([
            &env.cluster.bootstrap,
            &env.registry_url(),
            "third-party",
            &r.delivery.produced.to_string(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, r.delivery.produced);
    for line in &lines {
        // fastavro gives the union's record itself; its accountId is the key.
        assert_eq!(line["value"]["event"]["accountId"], line["key"], "{line}");
    }
}

#[test]
fn a_consumer_groups_lag_drains_to_zero_once_it_has_read_and_committed() {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    let env = Environment::embedded().unwrap();
    let topic = "lagging";
    env.cluster.create_topic(topic, 2).unwrap();
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    for i in 0..10u8 {
        let key = [b'k', i];
        producer.send(&Outgoing {
            topic,
            partition: None,
            key: Some(&key),
            payload: Some(b"{}"),
            headers: &[],
        });
    }
    assert_eq!(producer.finish().acknowledged, 10);
    let group = "service-under-test";
    let before: i64 = flowharness::kafka::lag::group_lag(&env.cluster, group, topic)
        .unwrap()
        .values()
        .sum();
    assert!(before > 0, "nothing consumed yet, so the group lags");

    let mut config = env.cluster.client_config();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = config.create().unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < 10 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            consumer.commit_message(&m, CommitMode::Sync).unwrap();
            read += 1;
        }
    }
    assert_eq!(read, 10);
    let drained =
        flowharness::kafka::lag::wait_for_zero_lag(&env.cluster, group, topic, Duration::from_secs(10)).unwrap();
    assert_eq!(drained, Ok(()));
}

/// With a data directory the broker keeps its topics, records and offsets
/// in tansu's sqlite engine: what was produced before a restart is read
/// back whole after it.
#[test]
fn a_broker_with_a_data_dir_keeps_its_records_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = Environment::connect(&Connect {
        data_dir: Some(dir.path().join("broker")),
        ..Connect::default()
    })
    .unwrap();
    let spec = shipped::resolve("account-migration").unwrap();
    let before = run(&env, &spec, "kept-across-restarts", 6, "happy=1", 9);
    assert_clean(&before);
    assert!(dir.path().join("broker/flowharness-broker.db").exists());

    env.restart_broker().unwrap();
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let options = ObserveOptions {
        start: None,
        expected: None,
        until_end: true,
        timeout: Duration::from_secs(30),
        run_id: None,
        partitions: None,
    };
    let mut checker = flowharness::flow::checker::Checker::new(&spec, CheckOptions::default());
    let seen = observer::observe(&env.cluster, "kept-across-restarts", &decoder, &options, &mut |o, _| {
        checker.observe(&o)
    })
    .unwrap();
    assert_eq!(seen.messages, before.delivery.produced);
    let after = checker.finish();
    assert!(after.findings.is_empty(), "{:#?}", after.findings);
    assert_eq!(after.complete_by_path.get("happy"), Some(&6));
}

/// Confluent's own Python client with Protobuf (confluent-kafka[protobuf],
/// and grpcio-tools for protoc, installed by CI from PyPI), both ways:
/// its ProtobufDeserializer decodes what we produce through our registry,
/// and what its ProtobufSerializer writes (registering the .proto itself)
/// is checked clean by `verify --topic`.
#[test]
fn confluents_python_client_round_trips_protobuf_both_ways() {
    let has_client = std::process::Command::new("python3")
        .args(["-c", "import confluent_kafka, google.protobuf, grpc_tools"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_client {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs confluent-kafka[protobuf] and grpcio-tools; they must be importable"
        );
        println!("skipped: python3 with confluent-kafka[protobuf] and grpcio-tools is not installed");
        return;
    }
    let env = Environment::embedded().unwrap();
    let spec_path = repo_path("examples/protobuf/account-migration.toml");
    let spec = FlowSpec::load(&spec_path).unwrap();
    let proto = repo_path("examples/protobuf/account_migration.proto");
    let python = |args: &[&str]| {
        let out = std::process::Command::new("python3")
            .arg(repo_path("tests/third_party/confluent_protobuf.py"))
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    // Ours → theirs.
    let r = run(&env, &spec, "proto-ours", 6, "happy=2,cancel=1,rollback=1", 3);
    assert_clean(&r);
    let produced = r.delivery.produced.to_string();
    let stdout = python(&[
        "consume",
        &env.cluster.bootstrap,
        &env.registry_url(),
        "proto-ours",
        &produced,
        proto.to_str().unwrap(),
        "AccountMigrationEvent",
    ]);
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, r.delivery.produced);
    let mut states = std::collections::BTreeSet::new();
    for line in &lines {
        assert_eq!(line["value"]["account_id"], line["key"], "{line}");
        let value = line["value"].as_object().unwrap();
        let members: Vec<&String> = value
            .keys()
            .filter(|k| !["metadata", "enrollment_id", "account_id", "effective_enrollment_date"].contains(&k.as_str()))
            .collect();
        assert_eq!(members.len(), 1, "one oneof member set: {line}");
        states.insert(members[0].clone());
    }
    assert!(
        states.contains("completed") && states.contains("cancelled"),
        "{states:?}"
    );
    // Theirs → ours: a fixture of ours, serialized by their client.
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("am.json");
    let (code, o, e) = common::flowharness(&[
        "generate",
        "--flow",
        spec_path.to_str().unwrap(),
        "--flows",
        "12",
        "--seed",
        "9",
        "--out",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{o}{e}");
    env.cluster.create_topic("proto-theirs", 3).unwrap();
    let sent = python(&[
        "produce",
        &env.cluster.bootstrap,
        &env.registry_url(),
        "proto-theirs",
        fixture.to_str().unwrap(),
        proto.to_str().unwrap(),
        "AccountMigrationEvent",
        "account_id",
    ]);
    let sent: u64 = sent.trim().parse().unwrap();
    assert!(sent > 12, "{sent}");
    let (code, o, e) = common::flowharness(&[
        "verify",
        "--flow",
        spec_path.to_str().unwrap(),
        "--topic",
        "proto-theirs",
        "--from-beginning",
        "--timeout",
        "10s",
        "--bootstrap-servers",
        &env.cluster.bootstrap,
        "--registry-url",
        &env.registry_url(),
    ]);
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains(&format!("summary: {sent} messages")), "{o}");
    assert!(o.contains("violations: 0"), "{o}");
}

//! Failure behaviour as a tested feature: bad data on the wire is reported
//! where it is and the check goes on; a broker stopped and started again
//! mid-run leaves an exact account; a registry answering 5xx is retried,
//! then a clear error, and nothing goes out unframed; Ctrl-C during a load
//! writes a partial report and exits 130.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flowharness::flow::checker::{CheckOptions, Checker};
use flowharness::flow::findings::Rule;
use flowharness::flow::generator::{FlowGenerator, Mix};
use flowharness::flow::shipped;
use flowharness::generate::hints::Hints;
use flowharness::kafka::observer::{self, Decoder, ObserveOptions, end_offsets};
use flowharness::kafka::producer::{Outgoing, Producer, ProducerOptions};
use flowharness::kafka::{Connect, Environment};
use flowharness::load::engine::{self, EngineOptions};
use flowharness::load::rate::Schedule;
use flowharness::load::sink::{Acks, KafkaSink};
use flowharness::load::{LoadOptions, pool};
use flowharness::verify::{Message, ProduceRun, encode, produce_and_check};

/// Reads `expected` messages (the broker's end offsets can lag what it
/// holds, so reading to them could stop short) and checks them.
fn read_all(
    env: &Environment,
    topic: &str,
    spec: &flowharness::flow::FlowSpec,
    expected: u64,
) -> (u64, flowharness::flow::checker::Report) {
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let options = ObserveOptions {
        start: None,
        expected: Some(expected),
        until_end: false,
        timeout: Duration::from_secs(30),
        run_id: None,
        partitions: None,
    };
    let mut checker = Checker::new(spec, CheckOptions::default());
    let seen = observer::observe(&env.cluster, topic, &decoder, &options, &mut |o, _| checker.observe(&o)).unwrap();
    (seen.messages, checker.finish())
}

#[test]
fn bad_data_on_the_wire_is_reported_where_it_is_and_the_check_goes_on() {
    let env = Environment::embedded().unwrap();
    let spec = shipped::resolve("account-migration").unwrap();
    let topic = "wire-faults";
    env.cluster.create_topic(topic, 1).unwrap();
    let id = env.registry.register(&format!("{topic}-value"), spec.schema()).unwrap();
    let options = common::flow_options(&spec, 1, "happy=1");
    let flow = FlowGenerator::new(&spec, options).unwrap().generate(3).unwrap();
    let good: Vec<Vec<u8>> = flow
        .iter()
        .map(|m| encode(spec.schema(), id, &m.value).unwrap())
        .collect();
    let mut framed_garbage = vec![0, 0, 0, 0, 0];
    framed_garbage[1..5].copy_from_slice(&id.to_be_bytes());
    framed_garbage.extend([0xff; 24]);
    let mut oversized = good[1].clone();
    oversized.resize(1_200_000, 0);
    // The bad ones, in the middle of a good flow; what each should say.
    let bad: Vec<(Option<Vec<u8>>, &str)> = vec![
        (Some(b"plain text, no framing".to_vec()), "no Confluent framing"),
        (Some(vec![0, 0, 0, 0x03, 0xe7, 2, 4]), "schema id 999"),
        (Some(good[1][..12].to_vec()), "Avro datum"),
        (Some(framed_garbage), "Avro datum"),
        (Some(oversized), "larger than expected"),
        (None, "tombstone"),
    ];
    let mut cluster = env.cluster.clone();
    cluster = cluster
        .with_properties(&["message.max.bytes=4000000".to_string()])
        .unwrap();
    let mut producer = Producer::new(&cluster, &ProducerOptions::default()).unwrap();
    let send = |p: &mut Producer, topic: &str, key: &str, payload: Option<&[u8]>| {
        p.send(&Outgoing {
            topic,
            partition: None,
            key: Some(key.as_bytes()),
            payload,
            headers: &[],
        });
    };
    send(&mut producer, topic, &flow[0].key, Some(&good[0]));
    for (i, (payload, _)) in bad.iter().enumerate() {
        send(&mut producer, topic, &format!("foreign-{i}"), payload.as_deref());
    }
    for (m, bytes) in flow.iter().zip(&good).skip(1) {
        send(&mut producer, topic, &m.key, Some(bytes));
    }
    let delivery = producer.finish();
    assert_eq!(delivery.failed, 0, "{:?}", delivery.failures);

    let (messages, report) = read_all(&env, topic, &spec, (good.len() + bad.len()) as u64);
    assert_eq!(messages, (good.len() + bad.len()) as u64);
    let invalid: BTreeMap<i64, String> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::SchemaInvalid)
        .map(|f| {
            assert_eq!(f.partition, 0);
            (f.offset, f.message.clone())
        })
        .collect();
    for (i, (_, says)) in bad.iter().enumerate() {
        let offset = i as i64 + 1;
        let message = invalid
            .get(&offset)
            .unwrap_or_else(|| panic!("offset {offset}: no finding in {invalid:#?}"));
        assert!(
            message.contains(says),
            "offset {offset}: {message:?} should say {says:?}"
        );
    }
    assert_eq!(invalid.len(), bad.len(), "{invalid:#?}");
    // The good flow around them was checked to its end.
    assert_eq!(report.complete_by_path.get("happy"), Some(&1), "{:#?}", report.findings);

    // JSON topics: bytes that are not UTF-8, text that is not JSON.
    let subscriptions = shipped::resolve("subscription-catalog").unwrap();
    let topic = "wire-faults-json";
    env.cluster.create_topic(topic, 1).unwrap();
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    for payload in [&b"\xff\xfe\x00not utf-8"[..], b"{\"header\": {\"eventType\": "] {
        send(&mut producer, topic, "k", Some(payload));
    }
    assert_eq!(producer.finish().failed, 0);
    let (_, report) = read_all(&env, topic, &subscriptions, 2);
    let said: Vec<(i64, &str)> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::SchemaInvalid)
        .map(|f| (f.offset, f.message.as_str()))
        .collect();
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(said[0].0 == 0 && said[0].1.contains("not UTF-8"), "{said:#?}");
    assert!(said[1].0 == 1 && said[1].1.contains("not JSON"), "{said:#?}");
}

#[test]
fn a_broker_stopped_mid_load_and_started_again_leaves_an_exact_account() {
    let mut env = Environment::embedded().unwrap();
    let spec = Arc::new(shipped::resolve("account-migration").unwrap());
    let topic = "broker-restart";
    env.cluster.create_topic(topic, 1).unwrap();
    let options = LoadOptions {
        topic: topic.into(),
        partitions: 1,
        rate: "200/s".into(),
        engine: EngineOptions {
            schedule: Schedule::parse("200/s", 5.0).unwrap(),
            duration: Duration::from_secs(5),
            max_flows: None,
            accounts: 10_000,
            shard: (0, 1),
            seed: 5,
            time_scale: 0.0,
            max_in_flight: 100_000,
            flush_timeout: Duration::from_secs(15),
        },
        mix: Mix::uniform(&spec),
        flow: spec.clone(),
        hints: Arc::new(Hints::builtin(1_790_000_000_000)),
        pool_size: 32,
        observe: false,
        consumer_group: None,
        drain_timeout: Duration::from_secs(1),
        producer: ProducerOptions::for_load(Duration::from_secs(15)),
    };
    let pool = pool(&env, &options, 5).unwrap();
    let acks = Arc::new(Acks::new(Instant::now()));
    let mut sink = KafkaSink::new(&env.cluster, &options.producer, &[topic.to_string()], acks.clone()).unwrap();
    let engine_options = options.engine.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let producing = {
        let (stop, acks) = (stop.clone(), acks.clone());
        std::thread::spawn(move || engine::run(&pool, &engine_options, &mut sink, &acks, &stop, &mut |_| ()))
    };
    std::thread::sleep(Duration::from_secs(1));
    env.stop_broker().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    env.restart_broker().unwrap();
    // A memory broker comes back empty: the topic is made again, as an
    // operator would, and what was acknowledged before the stop is gone
    // with the broker, not lost by the harness.
    env.cluster.create_topic(topic, 1).unwrap();
    let acknowledged_at_restart = acks.acknowledged.load(Ordering::Relaxed);
    let result = producing.join().unwrap();
    let acknowledged = acks.acknowledged.load(Ordering::Relaxed);
    let failed = acks.failed.load(Ordering::Relaxed);
    assert_eq!(
        acknowledged + failed,
        result.events_sent,
        "every message is acknowledged or failed"
    );
    assert!(
        acknowledged > acknowledged_at_restart,
        "delivery went on after the broker returned"
    );
    // Read back (the broker's end offsets can lag what it holds, so read
    // until the count is reached or nothing more comes).
    let after = acknowledged - acknowledged_at_restart;
    let options = ObserveOptions {
        start: None,
        expected: Some(after),
        until_end: false,
        timeout: Duration::from_secs(20),
        run_id: None,
        partitions: None,
    };
    let decoder = Decoder {
        registry: env.registry.clone(),
    };
    let seen = observer::observe(&env.cluster, topic, &decoder, &options, &mut |_, _| ()).unwrap();
    assert!(
        seen.messages >= after,
        "{after} acknowledged after the restart, {} on the topic: something reported delivered was not",
        seen.messages
    );
}

#[test]
fn messages_to_a_stopped_broker_all_count_as_failed() {
    let mut env = Environment::embedded().unwrap();
    env.cluster.create_topic("stopped", 1).unwrap();
    env.stop_broker().unwrap();
    let options = ProducerOptions {
        flush_timeout: Duration::from_secs(2),
        ..ProducerOptions::default()
    };
    let mut producer = Producer::new(&env.cluster, &options).unwrap();
    for i in 0..50 {
        producer.send(&Outgoing {
            topic: "stopped",
            partition: None,
            key: Some(format!("{i}").as_bytes()),
            payload: Some(b"x"),
            headers: &[],
        });
    }
    let began = Instant::now();
    let d = producer.finish();
    assert!(began.elapsed() < Duration::from_secs(10), "{:?}", began.elapsed());
    assert_eq!((d.produced, d.acknowledged, d.failed), (50, 0, 50), "{:?}", d.failures);
    assert!(!d.failures.is_empty());
}

/// An HTTP server that answers every request with 503, counting them.
fn failing_registry() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, Ordering::Relaxed);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = r#"{"error_code":50301,"message":"overloaded"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, count)
}

#[test]
fn a_registry_answering_5xx_is_retried_then_a_clear_error_and_nothing_goes_out() {
    let (url, requests) = failing_registry();
    let env = Environment::connect(&Connect {
        registry_url: Some(url.clone()),
        timeout: Some(Duration::from_secs(2)),
        ..Connect::default()
    })
    .unwrap();
    let spec = shipped::resolve("account-migration").unwrap();
    let options = common::flow_options(&spec, 2, "");
    let messages = FlowGenerator::new(&spec, options)
        .unwrap()
        .generate(1)
        .unwrap()
        .into_iter()
        .map(|k| Message::keyed(k.key, k.value))
        .collect();
    let run = ProduceRun {
        topic: "registry-down".into(),
        others: Vec::new(),
        partitions: 1,
        schema: spec.schema().clone(),
        messages,
        seed: Some(1),
        strategy: flowharness::registry::SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(5),
        keep_observed: false,
    };
    let began = Instant::now();
    let err = produce_and_check(&env, &run, Some(&spec), CheckOptions::default())
        .unwrap_err()
        .to_string();
    assert!(began.elapsed() < Duration::from_secs(30), "{:?}", began.elapsed());
    assert!(
        err.contains(&format!("schema registry {url}")) && err.contains("503"),
        "{err}"
    );
    assert!(err.contains("gave up after 4 attempts"), "{err}");
    assert_eq!(requests.load(Ordering::Relaxed), 4, "one try and three retries");
    // Nothing was sent, framed or not.
    let sent: i64 = end_offsets(&env.cluster, "registry-down")
        .map(|o| o.iter().map(|(_, n)| n).sum())
        .unwrap_or(0);
    assert_eq!(sent, 0);
}

#[test]
fn ctrl_c_during_load_writes_a_partial_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("partial.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"))
        .args([
            "load",
            "--flow",
            "account-migration",
            "--rate",
            "100/s",
            "--duration",
            "120s",
        ])
        .args(["--time-scale", "0", "--report", report.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it start producing (the embedded pair starts first).
    std::thread::sleep(Duration::from_secs(4));
    let code = common::interrupt(&mut child, Duration::from_secs(30));
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(code, Some(130), "{out}");
    assert!(out.contains("(interrupted)"), "{out}");
    let r = flowharness::load::report::load(&report).unwrap();
    assert!(r.interrupted && r.flows.started > 0, "{r:#?}");
    assert_eq!(r.events.acknowledged + r.events.failed, r.events.sent);
}

#[test]
fn planted_secrets_never_appear_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let junit = dir.path().join("j.xml");
    let secrets = [
        "PLANTED-SASL",
        "PLANTED-SSL",
        "PLANTED-URL",
        "PLANTED-AUTH",
        "PLANTED-ENV",
    ];
    let planted = [
        "-X",
        "sasl.password=PLANTED-SASL",
        "-X",
        "ssl.key.password=PLANTED-SSL",
        "--registry-url",
        "http://user:PLANTED-URL@127.0.0.1:1",
        "--registry-auth",
        "user:PLANTED-AUTH",
        "--connect-timeout",
        "1s",
    ];
    let external = ["--bootstrap-servers", "127.0.0.1:1"];
    let runs: Vec<Vec<&str>> = vec![
        [
            &[
                "verify",
                "--topic",
                "t",
                "--flow",
                "account-migration",
                "--junit",
                junit.to_str().unwrap(),
            ][..],
            &external,
            &planted,
        ]
        .concat(),
        [
            &["produce", "--flow", "account-migration", "--flows", "1"][..],
            &planted,
        ]
        .concat(),
        [
            &[
                "load",
                "--flow",
                "account-migration",
                "--duration",
                "1s",
                "--report",
                report.to_str().unwrap(),
            ][..],
            &planted,
        ]
        .concat(),
        [&["up", "--for", "1s", "-X", "sasl.password=PLANTED-SASL"][..]].concat(),
        vec!["produce", "--help"],
        vec!["load", "--help"],
        vec!["verify", "--help"],
    ];
    for args in runs {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"))
            .args(&args)
            .env("RUST_LOG", "debug")
            .env("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "user:PLANTED-ENV")
            .env("KAFKA_PROPERTIES", "sasl.password=PLANTED-ENV")
            .env("SCHEMA_REGISTRY_URL", "http://user:PLANTED-ENV@127.0.0.1:1")
            .output()
            .unwrap();
        let mut text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for file in [&report, &junit] {
            if let Ok(written) = std::fs::read_to_string(file) {
                text.push_str(&written);
            }
        }
        assert!(!text.is_empty(), "{args:?} printed nothing");
        for secret in secrets {
            assert!(!text.contains(secret), "{args:?} shows {secret}:\n{text}");
        }
    }
}

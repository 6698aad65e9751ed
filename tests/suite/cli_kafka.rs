//! The commands that talk to a broker (produce, verify --topic, up, load),
//! driven in-process on the embedded pair, and their exit codes.

use crate::common;

use common::flowharness;

#[test]
fn produce_runs_flows_through_the_embedded_broker_and_reports_the_accounting() {
    let (code, out, err) = flowharness(&[
        "produce",
        "--flow",
        "account-migration",
        "--flows",
        "6",
        "--mix",
        "happy=80,cancel=15,rollback=5",
        "--seed",
        "1",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let produced: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        out.starts_with(&format!(
            "produced {produced} to account-migration (acknowledged {produced}, failed 0), schema id 1\n"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("observed {produced} (")), "{out}");
    assert!(out.contains("violations: 0 ();"), "{out}");
    assert!(out.ends_with("lost: 0\nduplicated: 0\n"), "{out}");
}

#[test]
fn produce_takes_the_seed_fixture_as_it_is() {
    let (code, out, _) = flowharness(&["produce", "--file", "fixtures/complex.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("produced 1 to migration-all-1 (acknowledged 1, failed 0)"),
        "{out}"
    );
    // Checked against the migration flow, its Completed has no Scheduled.
    let (code, out, _) = flowharness(&[
        "produce",
        "--file",
        "fixtures/complex.json",
        "--flow",
        "account-migration",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[unknown-flow]"), "{out}");
}

#[test]
fn verify_topic_against_an_unreachable_broker_exits_2_naming_it() {
    let (code, _, err) = flowharness(&[
        "verify",
        "--topic",
        "t",
        "--flow",
        "account-migration",
        "--bootstrap-servers",
        "127.0.0.1:1",
        "--connect-timeout",
        "1s",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: kafka 127.0.0.1:1: no answer within 1s"),
        "{err}"
    );
}

#[test]
fn up_prints_where_the_broker_and_registry_are() {
    let (code, out, _) = flowharness(&["up", "--for", "10ms", "--topic", "orders:2"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("broker:   127.0.0.1:"), "{out}");
    assert!(lines[1].starts_with("registry: http://127.0.0.1:"), "{out}");
    assert_eq!(lines[2], "kept:     retention 1GiB,1h in memory", "{out}");
    assert!(
        lines[3].starts_with("export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:"),
        "{out}"
    );
    assert!(
        lines[4].starts_with("export SCHEMA_REGISTRY_URL=http://127.0.0.1:"),
        "{out}"
    );
}

#[test]
fn verify_topic_reads_what_a_plain_producer_wrote_and_writes_junit() {
    use flowharness::kafka::Environment;
    use flowharness::kafka::producer::{Outgoing, Producer, ProducerOptions};
    let env = Environment::embedded().unwrap();
    let spec = flowharness::flow::shipped::resolve("account-migration").unwrap();
    let topic = "cli-verify";
    env.cluster.create_topic(topic, 1).unwrap();
    let id = env.registry.register(&format!("{topic}-value"), spec.schema()).unwrap();
    let options = common::flow_options(&spec, 1, "happy=1");
    let flow = flowharness::flow::generator::generate(&spec, &options, 3).unwrap();
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    // Validated is left out: BalanceRetrieved → Completed.
    for m in flow
        .iter()
        .filter(|m| !m.value.to_string().contains("AccountMigrationValidatedEvent"))
    {
        let payload = flowharness::verify::encode(spec.schema(), id, &m.value).unwrap();
        producer.send(&Outgoing {
            topic,
            partition: None,
            key: Some(m.key.as_bytes()),
            payload: Some(&payload),
            headers: &[],
        });
    }
    assert_eq!(producer.finish().failed, 0);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("verify.xml");
    let registry = env.registry_url();
    let (code, out, err) = flowharness(&[
        "verify",
        "--topic",
        topic,
        "--flow",
        "account-migration",
        "--from-beginning",
        "--timeout",
        "20s",
        "--bootstrap-servers",
        &env.cluster.bootstrap,
        "--registry-url",
        &registry,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.starts_with("read 3 from cli-verify (0: 3)\n"), "{out}");
    assert!(
        out.contains("error[transition-not-allowed] partition 0 offset 2 "),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase classname=\"flowharness.rules\" name=\"transition-not-allowed\">\n      <failure type=\"transition-not-allowed\" message=\"1 found\">"), "{xml}");
    assert!(
        xml.contains("<testcase classname=\"flowharness.rules\" name=\"schema-invalid\"/>"),
        "{xml}"
    );
    assert!(xml.contains("tests=\"18\" failures=\"1\""), "{xml}");
}

#[test]
fn load_writes_its_reports_and_a_breached_slo_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("load.json"), dir.path().join("load.html"));
    let (code, out, err) = flowharness(&[
        "load",
        "--flow",
        "account-migration",
        "--rate",
        "50/s",
        "--duration",
        "1s",
        "--time-scale",
        "0",
        "--observe",
        "--report",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--max-p99",
        "0ms",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("SLO breached: ack p99") && out.contains("0 lost, 0 violations"),
        "{out}"
    );
    let report = flowharness::load::report::load(&json).unwrap();
    assert_eq!(report.flows.started, 50);
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));

    let (code, _, err) = flowharness(&["load", "--flow", "account-migration", "--rate", "fast"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--rate"), "{err}");
    let (code, _, err) = flowharness(&["load", "--flow", "account-migration", "--mix", "happy=1,sideways=2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sideways"), "{err}");
}

#[test]
fn bad_load_and_file_input_is_exit_2_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let unreadable = dir.path().to_str().unwrap().to_string();
    for (args, expected) in [
        (vec!["load", "--flow", "account-migration", "--rate=-5/s"], "--rate"),
        (
            vec!["load", "--flow", "account-migration", "--duration", "soon"],
            "--duration",
        ),
        (
            vec!["load", "--flow", "account-migration", "--duration", "0s"],
            "--duration",
        ),
        (
            vec!["load", "--flow", "account-migration", "--shard", "3/2"],
            "--shard: expected i/n",
        ),
        (
            vec!["load", "--flow", "account-migration", "--max-error-rate", "lots"],
            "--max-error-rate",
        ),
        (
            vec!["load", "--flow", "account-migration", "--mix", "happy=0,cancel=0"],
            "--mix: the weights sum to zero",
        ),
        (
            vec!["load", "--flow", "subscription-catalog"],
            "references between flows",
        ),
        (vec!["fixture", "check", unreadable.as_str()], unreadable.as_str()),
    ] {
        let (code, _, err) = flowharness(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

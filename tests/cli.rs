//! The command line, driven in-process, and the binary's exit codes.

mod common;

use clap::Parser;
use common::repo_path;
use flowharness::cli::{Cli, run};
use serde_json::json;

fn flowharness(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["flowharness".to_string()];
    argv.extend(args.iter().map(|a| {
        if a.starts_with("fixtures/") || a.starts_with("schemas/") {
            repo_path(a).display().to_string()
        } else {
            a.to_string()
        }
    }));
    let cli = Cli::try_parse_from(argv).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(cli, &mut out, &mut err);
    let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().replace(&root, "");
    (code, text(out), text(err))
}

#[test]
fn fixture_check_accepts_the_seed() {
    let (code, out, err) = flowharness(&["fixture", "check", "fixtures/complex.json"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "ok: fixtures/complex.json: 1 entries, 1 messages, all valid\n", "")
    );
}

#[test]
fn fixture_check_reports_each_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    let mut fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("fixtures/complex.json")).unwrap()).unwrap();
    let msg = fixture["0"]["messages"][0].clone();
    let mut bad = msg.clone();
    bad["event"]["uk.co.boostpower.support.kafka.messages.AccountMigrationCompletedEvent"]["accountId"] = json!(null);
    fixture["0"]["messages"] = json!([msg, bad, bad]);
    std::fs::write(&path, fixture.to_string()).unwrap();
    let (code, out, err) = flowharness(&["fixture", "check", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    let place = path.display();
    assert_eq!(
        err,
        format!(
            "error: {place}: entry \"0\": messages[1]: event.AccountMigrationCompletedEvent.accountId: expected string, found null\n\
             error: {place}: entry \"0\": messages[2]: event.AccountMigrationCompletedEvent.accountId: expected string, found null\n"
        )
    );
}

#[test]
fn schema_validate_reports_both_kinds() {
    let (code, out, _) = flowharness(&[
        "schema",
        "validate",
        "schemas/account-migration-event.avsc",
        "schemas/subscription-event.schema.json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "ok: schemas/account-migration-event.avsc: Avro record uk.co.boostpower.support.kafka.messages.AccountMigrationEvent\n\
         ok: schemas/subscription-event.schema.json: JSON Schema, 2 examples valid\n"
    );
}

#[test]
fn schema_validate_checks_json_schema_examples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.schema.json");
    std::fs::write(
        &path,
        json!({"type": "object", "required": ["a"], "examples": [{"a": 1}, {"b": 2}]}).to_string(),
    )
    .unwrap();
    let (code, _, err) = flowharness(&["schema", "validate", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!(
            "error: {}: examples[1]: (root): \"a\" is a required property",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn schema_compat_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.avsc");
    let v2 = dir.path().join("v2.avsc");
    std::fs::write(
        &v1,
        json!({"type": "record", "name": "U", "fields": [{"name": "id", "type": "string"}]}).to_string(),
    )
    .unwrap();
    std::fs::write(&v2, json!({"type": "record", "name": "U", "fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "int"}]}).to_string()).unwrap();
    let (v1s, v2s) = (v1.to_str().unwrap(), v2.to_str().unwrap());

    let (code, out, _) = flowharness(&["schema", "compat", "--old", v1s, "--new", v2s, "--mode", "forward"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("compatible: "), "{out}");

    let (code, out, _) = flowharness(&["schema", "compat", "--old", v1s, "--new", v2s, "--mode", "full"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "incompatible: backward ({v1s}): n: READER_FIELD_MISSING_DEFAULT_VALUE: reader field \"n\" has no default value and the writer has no such field\n1 incompatibilities under FULL\n"
        )
    );

    let (code, _, err) = flowharness(&["schema", "compat", "--old", v1s, "--new", v2s, "--mode", "sideways"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: unknown compatibility mode \"sideways\""),
        "{err}"
    );

    let (code, _, err) = flowharness(&[
        "schema",
        "compat",
        "--old",
        v1s,
        "--new",
        "schemas/subscription-event.schema.json",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("schema compat checks Avro schemas"), "{err}");
}

#[test]
fn the_binary_has_help_everywhere_and_exits_2_on_usage_errors() {
    let bin = env!("CARGO_BIN_EXE_flowharness");
    for args in [
        &["--help"][..],
        &["schema", "--help"],
        &["schema", "validate", "--help"],
        &["schema", "compat", "--help"],
        &["fixture", "check", "--help"],
    ] {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: flowharness"),
            "{args:?}"
        );
    }
    let out = std::process::Command::new(bin)
        .args(["fixture", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(bin)
        .args(["fixture", "check", "/nonexistent/f.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: /nonexistent/f.json: "));
}

#[test]
fn sample_prints_values_and_the_seed_to_replay() {
    let (code, out, err) = flowharness(&[
        "sample",
        "--schema",
        "schemas/account-migration-event.avsc",
        "--count",
        "5",
        "--seed",
        "7",
        "--now",
        "2026-01-01",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "seed: 7 (replay with --seed 7 --now 2026-01-01)\n");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5);
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v["event"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .starts_with("uk.co.boostpower.support.kafka.messages.")
        );
    }
    let (_, again, _) = flowharness(&[
        "sample",
        "--schema",
        "schemas/account-migration-event.avsc",
        "--count",
        "5",
        "--seed",
        "7",
        "--now",
        "2026-01-01",
    ]);
    assert_eq!(out, again, "same seed and now, same output");
}

#[test]
fn sample_restricts_to_a_branch_and_prints_framed_binary() {
    let (code, out, _) = flowharness(&[
        "sample",
        "--schema",
        "schemas/account-migration-event.avsc",
        "--count",
        "3",
        "--seed",
        "1",
        "--branch",
        "AccountMigrationScheduledEvent",
        "--format",
        "binary",
        "--schema-id",
        "258",
    ]);
    assert_eq!(code, 0);
    let schema = common::migration_schema();
    for line in out.lines() {
        let bytes: Vec<u8> = (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
            .collect();
        let (id, payload) = flowharness::codec::confluent::unframe(&bytes).unwrap();
        assert_eq!(id, 258);
        let v = flowharness::codec::binary::decode(&schema, payload).unwrap();
        assert!(
            v["event"]
                .get("uk.co.boostpower.support.kafka.messages.AccountMigrationScheduledEvent")
                .is_some(),
            "{v}"
        );
    }
}

#[test]
fn sample_works_for_the_subscription_json_schema_and_refuses_binary() {
    let (code, out, _) = flowharness(&[
        "sample",
        "--schema",
        "schemas/subscription-event.schema.json",
        "--count",
        "4",
        "--seed",
        "2",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4);
    let (code, _, err) = flowharness(&[
        "sample",
        "--schema",
        "schemas/subscription-event.schema.json",
        "--format",
        "binary",
        "--seed",
        "2",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--format binary needs an Avro schema"), "{err}");
    let (code, _, err) = flowharness(&[
        "sample",
        "--schema",
        "schemas/account-migration-event.avsc",
        "--branch",
        "Nope",
        "--seed",
        "2",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no union branch named \"Nope\""), "{err}");
}

#[test]
fn sample_reads_a_hint_file_and_names_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let hints = dir.path().join("hints.toml");
    std::fs::write(&hints, "[fields]\n\"data.code\" = { constant = \"MY_CODE\" }\n").unwrap();
    let (code, out, err) = flowharness(&[
        "sample",
        "--schema",
        "schemas/subscription-event.schema.json",
        "--count",
        "3",
        "--seed",
        "2",
        "--hints",
        hints.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.contains("\"code\":\"MY_CODE\"")), "{out}");
    std::fs::write(&hints, "[fields]\nx = { generator = \"nope\" }\n").unwrap();
    let (code, _, err) = flowharness(&[
        "sample",
        "--schema",
        "schemas/subscription-event.schema.json",
        "--hints",
        hints.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "{}: fields.\"x\": unknown generator \"nope\"",
            hints.display()
        )),
        "{err}"
    );
}

#[test]
fn generate_writes_a_fixture_that_checks_and_verifies_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flows.json");
    let out_s = out.to_str().unwrap();
    let (code, _, err) = flowharness(&[
        "generate",
        "--flow",
        "account-migration",
        "--flows",
        "10",
        "--mix",
        "happy=1,cancel=1,rollback=1",
        "--seed",
        "3",
        "--out",
        out_s,
        "--now",
        "2026-01-01",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.starts_with("seed: 3 (replay with --seed 3 --now 2026-01-01)\ngenerated 10 flows and "),
        "{err}"
    );
    let (code, _, err) = flowharness(&["fixture", "check", out_s]);
    assert_eq!(code, 0, "{err}");
    let (code, report, _) = flowharness(&[
        "verify",
        "--file",
        out_s,
        "--flow",
        "account-migration",
        "--incomplete",
        "error",
    ]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("violations: 0 (); warnings: 0 ()"), "{report}");
    let first = std::fs::read(&out).unwrap();
    flowharness(&[
        "generate",
        "--flow",
        "account-migration",
        "--flows",
        "10",
        "--mix",
        "happy=1,cancel=1,rollback=1",
        "--seed",
        "3",
        "--out",
        out_s,
        "--now",
        "2026-01-01",
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), first, "same seed, same file");
}

#[test]
fn verify_reports_the_seed_fixture_violation_and_exits_1() {
    let (code, out, _) = flowharness(&[
        "verify",
        "--file",
        "fixtures/complex.json",
        "--flow",
        "account-migration",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "warning[missing-key] partition 0 offset 0: messages carry no key, so order per accountId is not guaranteed (reported once)\n\
         error[unknown-flow] partition 0 offset 0 key 2222222 flow 123: Completed for a flow that never started (no Scheduled)\n\
         summary: 1 messages, 0 flows started, complete: none\n\
         violations: 1 (unknown-flow 1); warnings: 1 (missing-key 1)\n"
    );
}

#[test]
fn flow_commands_refuse_bad_arguments_with_exit_2() {
    for (args, expected) in [
        (
            vec!["generate", "--flow", "account-migration", "--mix", "happy=1,pause=2"],
            "--mix: flow account-migration has no path \"pause\"",
        ),
        (
            vec!["generate", "--flow", "account-migration", "--mix", "happy=0"],
            "--mix: the weights sum to zero",
        ),
        (
            vec!["generate", "--flow", "account-migration", "--mix", "happy=x"],
            "--mix: weight of happy must be a whole number",
        ),
        (
            vec!["generate", "--flow", "nope"],
            "unknown flow \"nope\": give a spec file path or one of account-migration, subscription-catalog",
        ),
        (
            vec!["generate", "--flow", "subscription-catalog", "--mix", "group=1"],
            "the mix has events that reference earlier flows",
        ),
        (
            vec!["verify", "--file", "/nonexistent.json", "--flow", "account-migration"],
            "/nonexistent.json: ",
        ),
    ] {
        let (code, _, err) = flowharness(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

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
    assert!(
        lines[2].starts_with("export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("export SCHEMA_REGISTRY_URL=http://127.0.0.1:"),
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
    let id = env.registry.register(&format!("{topic}-value"), &spec.schema).unwrap();
    let options = flowharness::flow::generator::FlowOptions {
        flows: 1,
        mix: flowharness::flow::generator::Mix::parse(&spec, "happy=1").unwrap(),
        hints: std::sync::Arc::new(flowharness::generate::hints::Hints::builtin(1_790_000_000_000)),
        jitter: 0.5,
        time_scale: 1.0,
    };
    let flow = flowharness::flow::generator::generate(&spec, &options, 3).unwrap();
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    // Validated is left out: BalanceRetrieved → Completed.
    for m in flow
        .iter()
        .filter(|m| !m.value.to_string().contains("AccountMigrationValidatedEvent"))
    {
        let payload = flowharness::verify::encode(&spec.schema, id, &m.value).unwrap();
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
    assert!(xml.contains("tests=\"17\" failures=\"1\""), "{xml}");
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

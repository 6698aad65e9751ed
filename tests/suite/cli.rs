//! The offline commands, driven in-process, and the binary's exit codes
//! (the commands that talk to a broker are in `cli_kafka.rs`).

use crate::common;

use common::{flowharness, repo_path};
use serde_json::json;

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
    assert!(
        err.contains("schema compat checks Avro and Protobuf schemas; this is a JSON Schema"),
        "{err}"
    );
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
    assert!(
        err.contains("--format binary needs an Avro or Protobuf schema"),
        "{err}"
    );
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
fn generate_writes_each_schema_once_beside_the_fixture_and_verify_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    for (flow, schemas) in [
        ("account-migration", vec!["flows.json.avsc"]),
        (
            "checkout-saga",
            vec!["flows.json.orders.avsc", "flows.json.payments.schema.json"],
        ),
    ] {
        let out = dir.path().join("flows.json");
        let (code, _, err) = common::flowharness(&[
            "generate",
            "--flow",
            flow,
            "--flows",
            "40",
            "--seed",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
        let named: std::collections::BTreeSet<&str> = fixture
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["schema"].as_str().expect("the schema by path, not inline"))
            .collect();
        assert_eq!(named.into_iter().collect::<Vec<_>>(), schemas, "{flow}");
        for s in &schemas {
            flowharness::schema::Schema::load(&dir.path().join(s)).unwrap();
        }
        let (code, out_text, err) = common::flowharness(&["verify", "--file", out.to_str().unwrap(), "--flow", flow]);
        assert_eq!(code, 0, "{flow}: {out_text}{err}");
        assert!(out_text.contains("violations: 0 ()"), "{out_text}");
    }
}

#[test]
fn fixture_lines_are_written_read_and_verified_like_the_seed_format() {
    let dir = tempfile::tempdir().unwrap();
    for flow in ["checkout-saga", "account-lifecycle"] {
        let mut summaries = Vec::new();
        for name in ["flows.json", "flows.jsonl"] {
            let out = dir.path().join(name);
            let out_s = out.to_str().unwrap();
            let (code, _, err) = common::flowharness(&[
                "generate", "--flow", flow, "--flows", "30", "--seed", "4", "--out", out_s,
            ]);
            assert_eq!(code, 0, "{flow} {name}: {err}");
            let (code, _, err) = common::flowharness(&["fixture", "check", out_s]);
            assert_eq!(code, 0, "{flow} {name}: {err}");
            let (code, report, err) = common::flowharness(&["verify", "--file", out_s, "--flow", flow]);
            assert_eq!(code, 0, "{flow} {name}: {report}{err}");
            summaries.push(report);
        }
        // The same flows, whichever form holds them.
        assert_eq!(summaries[0], summaries[1], "{flow}");
    }
    // One line per message after the header, each naming its topic.
    let text = std::fs::read_to_string(dir.path().join("flows.jsonl")).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "flowharness-fixture-lines/1");
    let row: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert!(
        row["value"].is_object() && row["key"].is_string() && row["headers"].is_object(),
        "{row}"
    );

    // A broken line is named by its number.
    let broken = dir.path().join("broken.jsonl");
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    let mut third: serde_json::Value = serde_json::from_str(&rows[2]).unwrap();
    third["headers"] = serde_json::json!({ "trace": 7 });
    rows[2] = third.to_string();
    rows.insert(4, "{\"value\": {}, \"topic\": \"nowhere\"}".into());
    std::fs::write(&broken, rows.join("\n")).unwrap();
    let (code, _, err) = common::flowharness(&["fixture", "check", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 3: headers.trace: expected a string, found 7"),
        "{err}"
    );
    assert!(
        err.contains("line 5") && err.contains("\"nowhere\" has no schema"),
        "{err}"
    );
}

/// `verify --window N` bounds what the checker remembers: a return that
/// comes after more deliveries than the window is reported, naming it.
#[test]
fn verify_window_bounds_what_the_checker_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f);
    let schema = common::repo_path("tests/parcels/parcel.schema.json");
    let header = serde_json::json!({"format": "flowharness-fixture-lines/1", "schemas": {"parcels": schema}});
    let mut lines = vec![header.to_string()];
    let row = |i: usize, status: &str| {
        format!(
            r#"{{"topic": "parcels", "key": "p-{i:05}", "value": {{"status": "{status}", "parcelId": "p-{i:05}"}}}}"#
        )
    };
    for i in 0..10 {
        lines.push(row(i, "PLACED"));
        lines.push(row(i, "DELIVERED"));
    }
    lines.push(row(0, "RETURNED"));
    std::fs::write(p("parcels.jsonl"), lines.join("\n") + "\n").unwrap();
    let (spec, file) = (common::repo_path("tests/parcels/parcels.toml"), p("parcels.jsonl"));
    let (spec, file) = (spec.to_str().unwrap(), file.to_str().unwrap());
    let (code, out, err) = common::flowharness(&["verify", "--file", file, "--flow", spec]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = common::flowharness(&["verify", "--file", file, "--flow", spec, "--window", "3"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unknown-flow") && out.contains("window of the last 3"),
        "{out}"
    );
}

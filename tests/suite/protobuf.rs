//! Protobuf contracts end to end: a `.proto` that does not compile names
//! file, line and column; a oneof-state flow generated to a fixture and
//! verified from it (clean, then with planted findings); an enum-state
//! flow whose `.proto` imports another, produced through the embedded
//! registry (the import registered as a reference) and checked.

use crate::common::{flowharness, repo_path};

const MIGRATION: &str = "examples/protobuf/account-migration.toml";
const ORDERS: &str = "tests/proto/order-status.toml";

#[test]
fn a_proto_that_does_not_compile_is_refused_at_its_line_and_column() {
    let (code, out, err) = flowharness(&[
        "schema",
        "validate",
        repo_path("tests/proto/order_status.proto").to_str().unwrap(),
        repo_path("tests/proto/broken.proto").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("Protobuf message shop.orders.OrderStatusChanged (message indexes [0]; imports common.proto)"),
        "{out}"
    );
    assert!(err.contains("broken.proto: 6:3: expected ';'"), "{err}");
}

#[test]
fn a_oneof_flow_generates_a_fixture_that_verifies_and_planted_faults_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("am.json");
    let spec = repo_path(MIGRATION);
    let (code, o, e) = flowharness(&[
        "generate",
        "--flow",
        spec.to_str().unwrap(),
        "--flows",
        "40",
        "--seed",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{o}{e}");
    assert!(
        dir.path().join("am.json.proto").exists(),
        "the .proto is written beside the fixture"
    );
    let verify = |file: &std::path::Path| {
        flowharness(&[
            "verify",
            "--flow",
            spec.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ])
    };
    let (code, o, e) = verify(&out);
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains("violations: 0"), "{o}");
    // A time that is not a number, and an event whose oneof has two members set.
    let text = std::fs::read_to_string(&out).unwrap();
    let mut fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    fixture["0"]["messages"][0]["scheduled"]["scheduled_at"] = serde_json::json!("soon");
    let other = fixture["1"]["messages"][0].as_object_mut().unwrap();
    other.insert("completed".into(), serde_json::json!({"completed_at": 1}));
    std::fs::write(&out, serde_json::to_string_pretty(&fixture).unwrap()).unwrap();
    let (code, o, e) = verify(&out);
    assert_eq!(code, 1, "{o}{e}");
    assert!(o.contains("scheduled.scheduled_at: \"soon\""), "{o}");
    assert!(
        o.contains("event: oneof event has 2 members set (scheduled, completed)"),
        "{o}"
    );
}

#[test]
fn an_enum_state_flow_with_an_import_produces_through_the_registry() {
    let (code, out, err) = flowharness(&[
        "produce",
        "--flow",
        repo_path(ORDERS).to_str().unwrap(),
        "--flows",
        "30",
        "--seed",
        "2",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("produced 96 to order-status (acknowledged 96, failed 0), schema id 2"),
        "{out}"
    );
    assert!(out.contains("violations: 0"), "{out}");
    assert!(out.contains("lost: 0"), "{out}");
}

#[test]
fn schema_compat_applies_protobuf_rules_and_says_what_it_does_not_check() {
    let path = |v: &str| {
        repo_path(&format!("tests/proto/compat/payment_{v}.proto"))
            .display()
            .to_string()
    };
    let (v1, v2, v3) = (path("v1"), path("v2"), path("v3"));
    let (code, out, err) = flowharness(&["schema", "compat", "--old", &v1, "--new", &v2]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("compatible change: backward (") && out.contains("PaymentRequested.wallet_id: ONEOF_FIELD_ADDED"),
        "{out}"
    );
    assert!(
        out.contains("is BACKWARD compatible with 1 earlier version(s) (Protobuf rules; not checked: options"),
        "{out}"
    );
    // FORWARD: v1 readers do not know the wallet member.
    let (code, out, _) = flowharness(&["schema", "compat", "--old", &v1, "--new", &v2, "--mode", "forward"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("incompatible: forward (") && out.contains("ONEOF_FIELD_REMOVED"),
        "{out}"
    );
    let (code, out, _) = flowharness(&[
        "schema",
        "compat",
        "--old",
        &v1,
        "--old",
        &v2,
        "--new",
        &v3,
        "--mode",
        "backward-transitive",
    ]);
    assert_eq!(code, 1, "{out}");
    for expected in [
        "payment_v1.proto): PaymentRequested.iban: ONEOF_FIELD_REMOVED",
        "payment_v2.proto): PaymentRequested.iban: ONEOF_FIELD_REMOVED",
        "PaymentRequested.amount_minor: FIELD_SCALAR_KIND_CHANGED",
    ] {
        assert!(out.contains(expected), "{expected} in\n{out}");
    }
    assert!(out.contains("4 incompatibilities under BACKWARD_TRANSITIVE"), "{out}");
}

#[test]
fn sample_pins_a_oneof_member_by_field_name_or_message_type() {
    let proto = repo_path("examples/protobuf/account_migration.proto");
    let proto = proto.to_str().unwrap();
    for branch in ["completed", "Completed", "accounts.migration.v1.Completed"] {
        let (code, out, err) = flowharness(&[
            "sample", "--schema", proto, "--count", "5", "--seed", "3", "--branch", branch,
        ]);
        assert_eq!(code, 0, "{out}{err}");
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 5);
        for line in &lines {
            assert!(line["completed"]["completed_at"].is_i64(), "{line}");
            assert!(line.get("scheduled").is_none(), "{line}");
        }
    }
    let (code, _, err) = flowharness(&["sample", "--schema", proto, "--branch", "Nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--branch \"Nope\": no oneof member of AccountMigrationEvent"),
        "{err}"
    );
    assert!(err.contains("members: scheduled, balance_retrieved"), "{err}");
}

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

//! The migration schema through both codecs, record by record, and the
//! path-bearing messages of every invalid case.

use crate::common;

use std::sync::Arc;

use common::{migration_schema, to_apache};
use flowharness::codec::{avro_json, binary, confluent};
use flowharness::generate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use common::MIGRATION_BRANCHES as BRANCHES;
const NS: &str = "uk.co.boostpower.support.kafka.messages";

fn scheduled() -> Value {
    json!({"event": {"AccountMigrationScheduledEvent": {
        "metadata": {"eventId": "e1", "traceToken": "t1", "createdAt": 1_700_000_000_000_i64},
        "enrollmentId": "en-1", "accountId": "1234567", "mpan": "1200023305967",
        "supplyStartDate": 19000, "effectiveEnrollmentDate": 19700, "scheduledAt": 1_700_000_000_000_i64
    }}})
}

fn apache_schema() -> apache_avro::Schema {
    let text = std::fs::read_to_string(common::repo_path("schemas/account-migration-event.avsc")).unwrap();
    apache_avro::Schema::parse_str(&text).unwrap()
}

#[test]
fn every_union_record_round_trips_in_binary_and_json_and_matches_apache_avro() {
    let schema = Arc::new(migration_schema());
    let apache = apache_schema();
    let values = generate::avro::strategy(&schema);
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&apache)
        .build()
        .unwrap();
    let seen = std::cell::RefCell::new(std::collections::HashSet::new());
    let mut runner = TestRunner::new(Config {
        cases: 700,
        ..Config::default()
    });
    runner
        .run(&values, |value| {
            let branch = value["event"].as_object().unwrap().keys().next().unwrap().clone();
            seen.borrow_mut().insert(branch);
            let bytes = binary::encode_to_vec(&schema, &value).unwrap();
            prop_assert_eq!(&binary::decode(&schema, &bytes).unwrap(), &value);
            let ours_apache = writer
                .write_value_to_vec(to_apache(&schema, schema.root(), &value))
                .unwrap();
            prop_assert_eq!(&bytes, &ours_apache);
            let text = serde_json::to_string(&value).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert!(avro_json::validate(&schema, &back).is_empty());
            prop_assert_eq!(&back, &value);
            Ok(())
        })
        .unwrap();
    for b in BRANCHES {
        assert!(
            seen.borrow().contains(&format!("{NS}.{b}")),
            "branch {b} never generated"
        );
    }
}

#[test]
fn short_union_names_are_accepted_and_normalized_to_full_names() {
    let schema = migration_schema();
    let normalized = avro_json::normalize(&schema, &scheduled()).unwrap();
    let key = normalized["event"].as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(key, format!("{NS}.AccountMigrationScheduledEvent"));
    let short = binary::encode_to_vec(&schema, &scheduled()).unwrap();
    let full = binary::encode_to_vec(&schema, &normalized).unwrap();
    assert_eq!(short, full);
    // Branch 4 in the union, zigzag-encoded as 8.
    assert_eq!(short[0], 8);
}

#[test]
fn confluent_framed_datums_carry_the_schema_id() {
    let schema = migration_schema();
    let payload = binary::encode_to_vec(&schema, &scheduled()).unwrap();
    let framed = confluent::frame(42, &payload);
    let (id, rest) = confluent::unframe(&framed).unwrap();
    assert_eq!(id, 42);
    assert_eq!(
        binary::decode(&schema, rest).unwrap(),
        avro_json::normalize(&schema, &scheduled()).unwrap()
    );
}

fn messages(value: &Value) -> Vec<String> {
    let schema = migration_schema();
    let violations: Vec<String> = avro_json::validate(&schema, value)
        .iter()
        .map(ToString::to_string)
        .collect();
    // The encoder refuses exactly what the validator refuses, with the same report.
    let encoded =
        binary::encode_to_vec(&schema, value).map_err(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>());
    assert_eq!(encoded.err().unwrap_or_default(), violations);
    violations
}

#[test]
fn wrong_type_names_the_path_and_the_logical_type() {
    let mut v = scheduled();
    v["event"]["AccountMigrationScheduledEvent"]["metadata"]["createdAt"] = json!("2005-02-02");
    assert_eq!(
        messages(&v),
        [
            "event.AccountMigrationScheduledEvent.metadata.createdAt: expected long (timestamp-millis), found string \"2005-02-02\""
        ]
    );
}

#[test]
fn null_where_a_string_is_required() {
    let mut v = scheduled();
    v["event"]["AccountMigrationScheduledEvent"]["mpan"] = Value::Null;
    assert_eq!(
        messages(&v),
        ["event.AccountMigrationScheduledEvent.mpan: expected string, found null"]
    );
}

#[test]
fn every_violation_is_reported_not_only_the_first() {
    let mut v = scheduled();
    let e = &mut v["event"]["AccountMigrationScheduledEvent"];
    e["accountId"] = json!(1234567);
    e["effectiveEnrollmentDate"] = json!(3_000_000_000_i64);
    e.as_object_mut().unwrap().remove("scheduledAt");
    e["colour"] = json!("blue");
    assert_eq!(
        messages(&v),
        [
            "event.AccountMigrationScheduledEvent.accountId: expected string, found number 1234567",
            "event.AccountMigrationScheduledEvent.effectiveEnrollmentDate: expected int (date), found number 3000000000",
            "event.AccountMigrationScheduledEvent.scheduledAt: missing field of type long (timestamp-millis)",
            "event.AccountMigrationScheduledEvent.colour: unknown field: record uk.co.boostpower.support.kafka.messages.AccountMigrationScheduledEvent has no field \"colour\"",
        ]
    );
}

#[test]
fn unknown_union_branch_lists_the_branches() {
    let v = json!({"event": {"AccountMigrationPausedEvent": {}}});
    let m = messages(&v);
    assert_eq!(m.len(), 1);
    assert!(m[0].starts_with("event: unknown union branch \"AccountMigrationPausedEvent\", expected one of [uk.co.boostpower.support.kafka.messages.AccountMigrationCancelledEvent, "), "{}", m[0]);
}

#[test]
fn a_union_written_without_its_branch_key_is_explained() {
    let v = json!({"event": {"metadata": {}, "accountId": "1"}});
    let m = messages(&v);
    assert_eq!(m.len(), 1);
    assert!(
        m[0].contains("written as {\"branch\": value}, found object {metadata, accountId}"),
        "{}",
        m[0]
    );
}

#[test]
fn decoding_truncated_data_names_path_and_offset() {
    let schema = migration_schema();
    let bytes = binary::encode_to_vec(&schema, &scheduled()).unwrap();
    let err = binary::decode(&schema, &bytes[..12]).unwrap_err();
    // 1 byte of union index, 3 of eventId, 3 of traceToken: byte 12 is inside createdAt.
    assert_eq!(err.path, "event.AccountMigrationScheduledEvent.metadata.createdAt");
    assert!(err.message.starts_with("truncated"), "{err}");
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(
        binary::decode(&schema, &extra)
            .unwrap_err()
            .message
            .contains("1 bytes left over")
    );
    let err = binary::decode(&schema, &[0x20]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event: union index 16 out of range (7 branches) (at byte 1)"
    );
}

#[test]
fn encode_plans_write_the_same_bytes_as_the_value_encoder() {
    use flowharness::codec::plan::EncodePlan;
    let schema = Arc::new(migration_schema());
    let plans: std::collections::HashMap<&str, EncodePlan> = BRANCHES
        .iter()
        .map(|b| (*b, EncodePlan::for_branch(&schema, b).unwrap()))
        .collect();
    let scheduled_leaves: Vec<&str> = plans["AccountMigrationScheduledEvent"]
        .leaves()
        .iter()
        .map(|l| l.path.as_str())
        .collect();
    assert_eq!(
        scheduled_leaves[0],
        "event.AccountMigrationScheduledEvent.metadata.eventId"
    );
    assert_eq!(scheduled_leaves.len(), 9);
    let values = generate::avro::strategy(&schema);
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    runner
        .run(&values, |value| {
            let mut datums = Vec::new();
            common::datums_of(&schema, schema.root(), &value, &mut datums);
            let mut bytes = Vec::new();
            plans[common::branch_of(&value).as_str()]
                .encode(datums.iter().map(|d| d.as_datum()), &mut bytes)
                .unwrap();
            prop_assert_eq!(bytes, binary::encode_to_vec(&schema, &value).unwrap());
            Ok(())
        })
        .unwrap();
}

#[test]
fn encode_plans_name_the_leaf_at_fault() {
    use flowharness::codec::plan::{Datum, EncodePlan};
    let schema = migration_schema();
    let plan = EncodePlan::for_branch(&schema, "AccountMigrationCompletedEvent").unwrap();
    let mut out = vec![9];
    let err = plan
        .encode([Datum::Str("e"), Datum::Str("t"), Datum::Str("late")], &mut out)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "event.AccountMigrationCompletedEvent.metadata.createdAt: expected long, found string Str(\"late\")"
    );
    assert_eq!(out, [9], "a failed encode leaves the buffer as it was");
    let err = plan.encode([Datum::Str("e")], &mut out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event.AccountMigrationCompletedEvent.metadata.traceToken: missing value: the plan has 7 leaves"
    );
    let err = EncodePlan::compile(&schema, schema.root(), &mut |_, _| None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event: no branch chosen for union [uk.co.boostpower.support.kafka.messages.AccountMigrationCancelledEvent, uk.co.boostpower.support.kafka.messages.AccountMigrationCompletedEvent, uk.co.boostpower.support.kafka.messages.AccountMigrationRollBackInitiatedEvent, uk.co.boostpower.support.kafka.messages.AccountMigrationRolledBackEvent, uk.co.boostpower.support.kafka.messages.AccountMigrationScheduledEvent, uk.co.boostpower.support.kafka.messages.AccountMigrationValidatedEvent, uk.co.boostpower.support.kafka.messages.BalanceRetrievedMigrationEvent]"
    );
}

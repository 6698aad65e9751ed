//! Generators: every value valid for thousands of cases on the shipped and
//! stress schemas; realistic fields; same seed, same bytes; shrinking;
//! hints; clear errors for what cannot be generated.

use crate::common;

use std::sync::Arc;

use common::repo_path;
use flowharness::codec::{avro_json, binary, plan::EncodePlan};
use flowharness::generate::fakes::{self, Rng};
use flowharness::generate::hints::{Hint, Hints};
use flowharness::generate::rows::RowGenerator;
use flowharness::generate::sample;
use flowharness::schema::Schema;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use rand::SeedableRng;
use serde_json::{Value, json};

const NOW: i64 = 1_790_000_000_000; // 2026-09-21

fn hints() -> Arc<Hints> {
    Arc::new(Hints::builtin(NOW))
}

fn load(rel: &str) -> Schema {
    Schema::load(&repo_path(rel)).unwrap()
}

/// Runs `cases` generated values of `schema` through its own validator.
fn all_valid(rel: &str, cases: u32) {
    let schema = load(rel);
    let strategy = sample::strategy(&schema, &hints(), None).unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |value| {
            let violations = schema.validate(&value);
            prop_assert!(violations.is_empty(), "{rel}: {value}\n{violations:?}");
            if let Schema::Avro(avro) = &schema {
                let bytes = binary::encode_to_vec(avro, &value).unwrap();
                prop_assert_eq!(binary::decode(avro, &bytes).unwrap(), value);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
}

#[test]
fn migration_events_are_valid() {
    all_valid("schemas/account-migration-event.avsc", 2000);
}

#[test]
fn subscription_events_are_valid() {
    all_valid("schemas/subscription-event.schema.json", 2000);
}

#[test]
fn stress_schemas_are_valid() {
    for rel in [
        "tests/schemas/avro-recursive.avsc",
        "tests/schemas/avro-logical.avsc",
        "tests/schemas/avro-collections.avsc",
        "tests/schemas/json-combinators.schema.json",
        "tests/schemas/json-recursive.schema.json",
    ] {
        all_valid(rel, 1000);
    }
}

#[test]
fn migration_events_look_real() {
    let schema = load("schemas/account-migration-event.avsc");
    let strategy = sample::strategy(&schema, &hints(), Some("AccountMigrationScheduledEvent")).unwrap();
    for value in sample::values(&strategy, 300, 11).unwrap() {
        let e = &value["event"]["uk.co.boostpower.support.kafka.messages.AccountMigrationScheduledEvent"];
        let account = e["accountId"].as_str().unwrap();
        assert!(
            account.len() == 7 && account.chars().all(|c| c.is_ascii_digit()),
            "{account}"
        );
        assert!(fakes::is_valid_mpan(e["mpan"].as_str().unwrap()), "{e}");
        for uuid in [
            &e["enrollmentId"],
            &e["metadata"]["eventId"],
            &e["metadata"]["traceToken"],
        ] {
            assert!(avro_json::is_uuid_str(uuid.as_str().unwrap()), "{uuid}");
        }
        let created = e["metadata"]["createdAt"].as_i64().unwrap();
        assert!((created - NOW).abs() <= 30 * 86_400_000, "{created} is not near now");
        let day = e["effectiveEnrollmentDate"].as_i64().unwrap();
        assert!((day - NOW / 86_400_000).abs() <= 365, "{day} is not near now");
    }
}

#[test]
fn subscription_codes_and_labels_look_real() {
    let schema = load("schemas/subscription-event.schema.json");
    let strategy = sample::strategy(&schema, &hints(), None).unwrap();
    let values = sample::values(&strategy, 200, 5).unwrap();
    let mut groups = 0;
    for v in &values {
        let code = v["data"]["code"].as_str().unwrap();
        assert!(
            code.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !code.starts_with('_'),
            "{code}"
        );
        let label = v["data"]["label"].as_object().unwrap();
        assert!(label.contains_key("en-GB"), "{label:?}");
        assert!(label.keys().all(|k| fakes::LOCALES.contains(&k.as_str())), "{label:?}");
        if v["data"]["type"] == "SUBSCRIPTION_GROUP" {
            groups += 1;
            assert_eq!(v["header"]["objectType"], "SUBSCRIPTION_GROUP");
        }
    }
    assert!((40..160).contains(&groups), "both types appear: {groups} groups of 200");
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let schema = load("schemas/account-migration-event.avsc");
    let Schema::Avro(avro) = &schema else { unreachable!() };
    let bytes = |seed| {
        let strategy = sample::strategy(&schema, &hints(), None).unwrap();
        sample::values(&strategy, 50, seed)
            .unwrap()
            .iter()
            .flat_map(|v| binary::encode_to_vec(avro, v).unwrap())
            .collect::<Vec<u8>>()
    };
    assert_eq!(bytes(42), bytes(42));
    assert_ne!(bytes(42), bytes(43));
    let json = load("schemas/subscription-event.schema.json");
    let text = |seed| {
        serde_json::to_string(&sample::values(&sample::strategy(&json, &hints(), None).unwrap(), 20, seed).unwrap())
            .unwrap()
    };
    assert_eq!(text(1), text(1));
}

#[test]
fn failing_properties_shrink_to_a_minimal_value() {
    // JSON Schema: "fewer than 2 options" fails; the minimal counterexample
    // has exactly 2 options and none of the optional properties.
    let schema = load("schemas/subscription-event.schema.json");
    let strategy = sample::strategy(&schema, &hints(), None).unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 500,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |v| {
        prop_assert!(v["data"]["options"].as_array().is_none_or(|o| o.len() < 2));
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("the property should fail: {result:?}")
    };
    assert_eq!(minimal["data"]["options"].as_array().unwrap().len(), 2, "{minimal}");
    assert!(
        minimal["data"].get("order").is_none() && minimal["data"].get("description").is_none(),
        "{minimal}"
    );

    // Avro: "a tree has fewer than 3 children" shrinks to exactly 3 leaves.
    let tree = load("tests/schemas/avro-recursive.avsc");
    let strategy = sample::strategy(&tree, &hints(), None).unwrap();
    let result = runner.run(&strategy, |v| {
        prop_assert!(v["children"].as_array().unwrap().len() < 3);
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("the property should fail")
    };
    let children = minimal["children"].as_array().unwrap();
    assert_eq!(children.len(), 3, "{minimal}");
    assert!(
        children
            .iter()
            .all(|c| c["children"].as_array().unwrap().is_empty() && c["next"].is_null()),
        "{minimal}"
    );
}

#[test]
fn hint_files_shape_fields() {
    let hints = Hints::from_toml(
        r#"
now = "2030-01-01"
[fields]
accountId = { generator = "digits", length = 9 }
"metadata.traceToken" = { constant = "trace-1" }
mpan = { regex = "99[0-9]{11}" }
createdAt = { range = [5, 9] }
enrollmentId = { one_of = ["e1", "e2"] }
"#,
        None,
    )
    .unwrap();
    let schema = load("schemas/account-migration-event.avsc");
    let strategy = sample::strategy(&schema, &Arc::new(hints), Some("BalanceRetrievedMigrationEvent")).unwrap();
    for v in sample::values(&strategy, 50, 3).unwrap() {
        let e = &v["event"]["uk.co.boostpower.support.kafka.messages.BalanceRetrievedMigrationEvent"];
        assert_eq!(e["accountId"].as_str().unwrap().len(), 9);
        assert_eq!(e["metadata"]["traceToken"], "trace-1");
        assert!(e["mpan"].as_str().unwrap().starts_with("99"));
        assert!((5..=9).contains(&e["metadata"]["createdAt"].as_i64().unwrap()));
        assert!(["e1", "e2"].contains(&e["enrollmentId"].as_str().unwrap()));
        let retrieved = e["retrievedAt"].as_i64().unwrap();
        assert!(
            (retrieved - 1_893_456_000_000).abs() <= 30 * 86_400_000,
            "now from the file"
        );
    }
}

#[test]
fn a_hint_that_does_not_fit_names_field_and_key() {
    let schema = load("schemas/account-migration-event.avsc");
    let bad = Arc::new(Hints::builtin(NOW).with("createdAt", Hint::Regex("[a-z]+".into())));
    let err = sample::strategy(&schema, &bad, None).unwrap_err().to_string();
    assert_eq!(
        err,
        "event.AccountMigrationCancelledEvent.metadata.createdAt: hint \"createdAt\" does not fit a field of type long (timestamp-millis)"
    );
    let err = sample::strategy(&schema, &hints(), Some("AccountMigrationPausedEvent"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "no union branch named \"AccountMigrationPausedEvent\" (branches: AccountMigrationCancelledEvent, "
        ),
        "{err}"
    );
}

fn json_error(schema: Value) -> String {
    let schema = Schema::from_value(&schema).unwrap();
    sample::strategy(&schema, &hints(), None).unwrap_err().to_string()
}

#[test]
fn what_cannot_be_generated_is_an_error_naming_the_schema_path() {
    assert_eq!(
        json_error(
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "array", "contains": {"const": 1}}}})
        ),
        "schema #/properties/a: keyword \"contains\" is not supported by the generator"
    );
    assert_eq!(
        json_error(
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "minLength": 5, "maxLength": 2}}})
        ),
        "schema #/properties/s: minLength 5 exceeds maxLength 2"
    );
    assert_eq!(
        json_error(json!({"allOf": [{"const": 1}, {"const": 2}]})),
        "schema #: const 1 conflicts with const 2"
    );
    let err = json_error(
        json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "not": {"minimum": 0}, "minimum": 0}}}),
    );
    assert!(
        err.starts_with("the generator cannot satisfy this schema; its values break: n: "),
        "{err}"
    );
}

#[test]
fn row_generators_fill_encode_plans_with_valid_realistic_events() {
    let Schema::Avro(avro) = load("schemas/account-migration-event.avsc") else {
        unreachable!()
    };
    let hints = Hints::builtin(NOW);
    let mut rng = Rng::seed_from_u64(1);
    for branch in [
        "AccountMigrationScheduledEvent",
        "AccountMigrationCompletedEvent",
        "BalanceRetrievedMigrationEvent",
    ] {
        let plan = EncodePlan::for_branch(&avro, branch).unwrap();
        let rows = RowGenerator::new(&avro, &plan, &hints).unwrap();
        let mut row = rows.empty_row();
        for _ in 0..200 {
            rows.fill(&mut rng, &mut row, &|_| false);
            let mut bytes = Vec::new();
            plan.encode(row.iter().map(|d| d.as_datum()), &mut bytes).unwrap();
            let value = binary::decode(&avro, &bytes).unwrap();
            assert!(avro_json::validate(&avro, &value).is_empty());
            let e = value["event"].as_object().unwrap().values().next().unwrap();
            assert_eq!(e["accountId"].as_str().unwrap().len(), 7);
            if let Some(mpan) = e.get("mpan") {
                assert!(fakes::is_valid_mpan(mpan.as_str().unwrap()));
            }
        }
    }
}

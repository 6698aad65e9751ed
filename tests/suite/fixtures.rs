//! Fixture files: the seed loads clean; every broken fixture gets one clear
//! error per problem naming file, entry, message index and path; writing
//! and reading again gives the same fixture.

use crate::common;

use std::path::Path;

use common::repo_path;
use flowharness::fixture::{Fixture, SchemaSource};
use serde_json::{Value, json};

fn seed() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_path("fixtures/complex.json")).unwrap()).unwrap()
}

fn errors_of(dir: &Path, name: &str, text: &str) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    match Fixture::load(&path) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .diagnostics()
            .iter()
            .map(|d| d.to_string().replace(&dir.display().to_string(), "DIR"))
            .collect(),
    }
}

#[test]
fn the_seed_fixture_loads_and_validates_clean() {
    let fixture = Fixture::load(&repo_path("fixtures/complex.json")).unwrap();
    let counts = fixture.counts();
    assert_eq!((counts.entries, counts.messages), (1, 1));
    let entry = &fixture.entries[0];
    assert_eq!(entry.topic, "migration-all-1");
    assert_eq!(entry.partition, Some(0));
    assert_eq!(entry.key, Value::Null);
    assert_eq!(entry.schema_source, SchemaSource::Inline);
    let event = &entry.messages[0]["event"]["uk.co.boostpower.support.kafka.messages.AccountMigrationCompletedEvent"];
    assert_eq!(event["accountId"], "2222222");
}

#[test]
fn a_written_fixture_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture::load(&repo_path("fixtures/complex.json")).unwrap();
    let out = dir.path().join("copy.json");
    fixture.save(&out).unwrap();
    let again = Fixture::load(&out).unwrap();
    assert_eq!(again.to_value(), fixture.to_value());
    // The seed is already in normal form, so the file is the same JSON.
    assert_eq!(fixture.to_value(), seed());
}

#[test]
fn a_schema_given_as_a_path_is_resolved_next_to_the_fixture_and_kept_as_a_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_path("schemas/account-migration-event.avsc"),
        dir.path().join("m.avsc"),
    )
    .unwrap();
    let mut json = seed();
    json["0"]["schema"] = json!("m.avsc");
    let path = dir.path().join("f.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let fixture = Fixture::load(&path).unwrap();
    assert_eq!(fixture.entries[0].schema_source, SchemaSource::Path("m.avsc".into()));
    assert_eq!(fixture.to_value()["0"]["schema"], "m.avsc");
}

#[test]
fn bad_json_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let errors = errors_of(dir.path(), "bad.json", "{\n  \"0\": {\n    \"topic\": \"t\",,\n  }\n}");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("DIR/bad.json: line 3 column 18: invalid JSON: "),
        "{}",
        errors[0]
    );
}

#[test]
fn each_problem_gets_its_own_error_with_entry_message_index_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut json = seed();
    let good = json["0"]["messages"][0].clone();
    let mut wrong_type = good.clone();
    wrong_type["event"]["uk.co.boostpower.support.kafka.messages.AccountMigrationCompletedEvent"]["completedAt"] =
        json!("yesterday");
    let unknown_branch = json!({"event": {"AccountMigrationPausedEvent": {}}});
    json["0"]["messages"] = json!([good, wrong_type, unknown_branch]);
    let errors = errors_of(dir.path(), "f.json", &json.to_string());
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(
        errors[0],
        "DIR/f.json: entry \"0\": messages[1]: event.AccountMigrationCompletedEvent.completedAt: expected long (timestamp-millis), found string \"yesterday\""
    );
    assert!(
        errors[1].starts_with(
            "DIR/f.json: entry \"0\": messages[2]: event: unknown union branch \"AccountMigrationPausedEvent\""
        ),
        "{}",
        errors[1]
    );
}

#[test]
fn a_schema_that_does_not_parse_is_named_with_its_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut json = seed();
    json["0"]["schema"]["fields"][0]["type"][1]["fields"][1]["type"] = json!("strnig");
    let errors = errors_of(dir.path(), "f.json", &json.to_string());
    assert_eq!(
        errors,
        [
            "DIR/f.json: entry \"0\": schema: fields[0].type[1].fields[1].type: unknown type \"strnig\" (named types must be defined before use)"
        ]
    );
}

#[test]
fn structural_problems_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = json!({
        "0": {"schema": "string", "topic": "bad topic!", "partition": -1, "messages": ["a"], "colour": 1},
        "1": {"schema": "string", "messages": "x"},
        "2": 7
    })
    .to_string();
    let errors = errors_of(dir.path(), "f.json", &text);
    assert_eq!(
        errors,
        [
            "DIR/f.json: entry \"0\": unknown key \"colour\"",
            "DIR/f.json: entry \"0\": topic: invalid topic name \"bad topic!\": use 1-249 of [a-zA-Z0-9._-]",
            "DIR/f.json: entry \"0\": partition: expected a partition number ≥ 0 or null, found -1",
            "DIR/f.json: entry \"1\": missing \"topic\"",
            "DIR/f.json: entry \"1\": messages: expected an array of messages",
            "DIR/f.json: entry \"2\": an entry must be an object with \"schema\", \"topic\" and \"messages\"",
        ]
    );
}

#[test]
fn a_missing_schema_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut json = seed();
    json["0"]["schema"] = json!("nowhere.avsc");
    let errors = errors_of(dir.path(), "f.json", &json.to_string());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("DIR/f.json: entry \"0\": schema: DIR/nowhere.avsc: "),
        "{}",
        errors[0]
    );
}

#[test]
fn json_schema_entries_validate_with_instance_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_path("schemas/subscription-event.schema.json"),
        dir.path().join("s.json"),
    )
    .unwrap();
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let mut bad = schema["examples"][0].clone();
    bad["data"]["code"] = json!("");
    let text = json!({"0": {"schema": "s.json", "topic": "subscriptions", "key": "INVOICE_NOTIFICATION",
        "messages": [schema["examples"][0], schema["examples"][1], bad]}})
    .to_string();
    let errors = errors_of(dir.path(), "f.json", &text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("DIR/f.json: entry \"0\": messages[2]: data.code: "),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("schema path /properties/data/properties/code/minLength"),
        "{}",
        errors[0]
    );
}

#[test]
fn garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "",
        "[]",
        "null",
        "{\"0\": null}",
        "{\"0\": {\"schema\": [], \"topic\": \"t\", \"messages\": []}}",
        "\u{0}\u{1}",
    ] {
        assert!(
            !errors_of(dir.path(), "g.json", text).is_empty(),
            "{text:?} should be rejected"
        );
    }
}

//! Schema files: parse errors name the JSON path; the subscription JSON
//! Schema enforces its reconstructed rules with instance and schema paths.

use crate::common;

use common::repo_path;
use flowharness::schema::{Schema, avro_parse};
use serde_json::{Value, json};

fn avro_error(json: Value) -> String {
    avro_parse::parse_value(&json).unwrap_err().to_string()
}

#[test]
fn avro_parse_errors_name_the_place_in_the_schema() {
    let rec = |fields: Value| json!({"type": "record", "name": "R", "fields": fields});
    assert_eq!(
        avro_error(rec(json!([{"name": "a", "type": "Missing"}]))),
        "fields[0].type: unknown type \"Missing\" (named types must be defined before use)"
    );
    assert_eq!(
        avro_error(rec(
            json!([{"name": "a", "type": {"type": "string", "logicalType": "date"}}])
        )),
        "fields[0].type: logical type date needs type int, found string"
    );
    assert_eq!(
        avro_error(rec(json!([{"name": "a", "type": ["null", ["int"]]}]))),
        "fields[0].type[1]: a union may not directly contain another union"
    );
    assert_eq!(
        avro_error(rec(json!([{"name": "a", "type": ["int", "int"]}]))),
        "fields[0].type[1]: duplicate union branch \"int\""
    );
    assert_eq!(
        avro_error(rec(json!([{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]))),
        "fields[1].name: duplicate field \"a\""
    );
    assert_eq!(
        avro_error(rec(json!([{"name": "1a", "type": "int"}]))),
        "fields[0].name: invalid field name \"1a\""
    );
    assert_eq!(
        avro_error(rec(
            json!([{"name": "a", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 6}}])
        )),
        "fields[0].type: decimal scale 6 exceeds precision 4"
    );
    assert_eq!(
        avro_error(rec(json!([{"name": "a", "type": ["null", "string"], "default": "x"}]))),
        "R.a: invalid default for field \"a\": a union default must match the first branch (null): expected null, found string \"x\""
    );
    assert_eq!(
        avro_error(json!({"type": "enum", "name": "E", "symbols": ["A", "A"]})),
        "symbols[1]: duplicate symbol \"A\""
    );
    assert_eq!(
        avro_error(json!({"type": "wat"})),
        "type: unknown type \"wat\" (named types must be defined before use)"
    );
    assert_eq!(
        avro_error(json!(42)),
        "(root): expected a type name, an object or an array, found 42"
    );
}

#[test]
fn unknown_logical_types_are_ignored_as_the_spec_says() {
    let schema = avro_parse::parse_value(&json!({"type": "long", "logicalType": "nanos-since-lunch"})).unwrap();
    assert_eq!(schema.describe(schema.root()), "long");
}

#[test]
fn schema_files_are_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.avsc");
    std::fs::write(&path, "{\"type\": \"record\", \"name\": \"X\"}").unwrap();
    let err = Schema::load(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}: (root): record \"X\" needs a \"fields\" array", path.display())
    );
    std::fs::write(&path, "{\"type\": ").unwrap();
    let err = Schema::load(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: line 1 column 9: invalid JSON: ", path.display())),
        "{err}"
    );
}

fn subscription() -> Schema {
    Schema::load(&repo_path("schemas/subscription-event.schema.json")).unwrap()
}

fn example(i: usize) -> Value {
    subscription().json()["examples"][i].clone()
}

fn violations(value: &Value) -> Vec<String> {
    subscription().validate(value).iter().map(ToString::to_string).collect()
}

#[test]
fn the_subscription_schema_is_a_json_schema_whose_examples_validate() {
    let schema = subscription();
    assert_eq!(schema.kind(), "JSON");
    assert_eq!(schema.json()["examples"].as_array().unwrap().len(), 2);
    assert!(violations(&example(0)).is_empty());
    assert!(violations(&example(1)).is_empty());
    assert!(schema.json()["$comment"].as_str().unwrap().contains("Reconstructed"));
}

#[test]
fn a_subscription_needs_options_and_a_group_needs_subscriptions() {
    let mut sub = example(0);
    sub["data"].as_object_mut().unwrap().remove("options");
    let v = violations(&sub);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].starts_with("data: \"options\" is a required property"), "{}", v[0]);
    assert!(v[0].contains("schema path /properties/data/else/required"), "{}", v[0]);

    let mut group = example(1);
    group["data"].as_object_mut().unwrap().remove("subscriptions");
    let v = violations(&group);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains("/properties/data/then/required"), "{}", v[0]);
}

#[test]
fn header_object_type_and_data_type_must_agree() {
    let mut sub = example(0);
    sub["header"]["objectType"] = json!("SUBSCRIPTION_GROUP");
    let v = violations(&sub);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].starts_with("data.type: "), "{}", v[0]);
    assert!(
        v[0].contains("/allOf/1/then/properties/data/properties/type/const"),
        "{}",
        v[0]
    );
}

#[test]
fn header_constants_labels_and_extra_properties_are_enforced() {
    let mut bad = example(0);
    bad["header"]["source"] = json!("SPARK");
    bad["header"]["type"] = json!("COMMAND");
    bad["data"]["label"] = json!({});
    bad["data"]["description"] = json!({"en-GB": ""});
    bad["data"]["order"] = json!(0);
    bad["data"]["colour"] = json!("blue");
    let mut paths: Vec<String> = violations(&bad)
        .iter()
        .map(|v| v.split(':').next().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "data",
            "data.description.en-GB",
            "data.label",
            "data.order",
            "header.source",
            "header.type"
        ]
    );
}

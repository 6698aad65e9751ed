//! Schema compatibility with Confluent's semantics, case by case.

use crate::common;

use common::{migration_schema, parse};
use flowharness::schema::compat::{self, Mode};
use serde_json::{Value, json};

fn check(mode: &str, old: Vec<Value>, new: Value) -> Vec<String> {
    let mode: Mode = mode.parse().unwrap();
    let previous: Vec<_> = old.into_iter().map(parse).collect();
    compat::check(mode, &parse(new), &previous)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn user(fields: Value) -> Value {
    json!({"type": "record", "name": "User", "namespace": "com.acme", "fields": fields})
}

#[test]
fn identical_schemas_are_compatible_in_every_mode() {
    let s = migration_schema().json().clone();
    for mode in Mode::ALL {
        assert!(
            compat::check(mode, &parse(s.clone()), &[parse(s.clone())]).is_empty(),
            "{mode}"
        );
    }
}

#[test]
fn adding_a_field_needs_a_default_for_backward() {
    let v1 = user(json!([{"name": "id", "type": "string"}]));
    let with_default = user(json!([{"name": "id", "type": "string"}, {"name": "age", "type": "int", "default": 0}]));
    let without = user(json!([{"name": "id", "type": "string"}, {"name": "age", "type": "int"}]));
    assert!(check("full", vec![v1.clone()], with_default).is_empty());
    assert_eq!(
        check("backward", vec![v1.clone()], without.clone()),
        [
            "backward against version 1: age: READER_FIELD_MISSING_DEFAULT_VALUE: reader field \"age\" has no default value and the writer has no such field"
        ]
    );
    assert!(check("forward", vec![v1], without).is_empty());
}

#[test]
fn removing_a_field_without_default_breaks_forward_only() {
    let v1 = user(json!([{"name": "id", "type": "string"}, {"name": "age", "type": "int"}]));
    let v2 = user(json!([{"name": "id", "type": "string"}]));
    assert!(check("backward", vec![v1.clone()], v2.clone()).is_empty());
    assert_eq!(
        check("forward", vec![v1], v2),
        [
            "forward against version 1: age: READER_FIELD_MISSING_DEFAULT_VALUE: reader field \"age\" has no default value and the writer has no such field"
        ]
    );
}

#[test]
fn promotions_are_one_way() {
    let int = user(json!([{"name": "n", "type": "int"}]));
    let long = user(json!([{"name": "n", "type": "long"}]));
    assert!(check("backward", vec![int.clone()], long.clone()).is_empty());
    assert_eq!(
        check("forward", vec![int], long),
        ["forward against version 1: n: TYPE_MISMATCH: reader type INT is not compatible with writer type LONG"]
    );
    let string = user(json!([{"name": "n", "type": "string"}]));
    let bytes = user(json!([{"name": "n", "type": "bytes"}]));
    assert!(check("full", vec![string], bytes).is_empty());
}

/// apache-avro answers `Partial` here; a registry must answer yes or no.
#[test]
fn a_change_to_a_named_type_shared_inside_a_union_is_found_once_with_its_path() {
    let old = migration_schema().json().clone();
    let mut new = old.clone();
    // EventMetadata is defined in the first branch and referenced by the other six.
    new["fields"][0]["type"][0]["fields"][0]["type"]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "region", "type": "string"}));
    assert_eq!(
        check("backward", vec![old.clone()], new.clone()),
        [
            "backward against version 1: event.AccountMigrationCancelledEvent.metadata.region: READER_FIELD_MISSING_DEFAULT_VALUE: reader field \"region\" has no default value and the writer has no such field"
        ]
    );
    assert!(check("forward", vec![old.clone()], new.clone()).is_empty());
    new["fields"][0]["type"][0]["fields"][0]["type"]["fields"][3]["default"] = json!("GB");
    assert!(check("full", vec![old], new).is_empty());
}

#[test]
fn removing_a_union_branch_breaks_backward() {
    let old = migration_schema().json().clone();
    let mut new = old.clone();
    // Keep EventMetadata's definition by moving it into the next branch.
    let branches = new["fields"][0]["type"].as_array_mut().unwrap();
    let metadata = branches[0]["fields"][0]["type"].clone();
    branches.remove(0);
    branches[0]["fields"][0]["type"] = metadata;
    assert_eq!(
        check("backward", vec![old.clone()], new.clone()),
        [
            "backward against version 1: event.AccountMigrationCancelledEvent: MISSING_UNION_BRANCH: reader union lacking writer type: record uk.co.boostpower.support.kafka.messages.AccountMigrationCancelledEvent"
        ]
    );
    assert!(check("forward", vec![old], new).is_empty());
}

#[test]
fn a_renamed_record_is_compatible_only_through_an_alias() {
    let v1 = user(json!([{"name": "id", "type": "string"}]));
    let mut renamed = v1.clone();
    renamed["name"] = json!("Customer");
    assert_eq!(
        check("backward", vec![v1.clone()], renamed.clone()),
        ["backward against version 1: (root): NAME_MISMATCH: expected: com.acme.User"]
    );
    renamed["aliases"] = json!(["User"]);
    assert!(check("backward", vec![v1.clone()], renamed.clone()).is_empty());
    // The alias is the reader's: the old schema has none, so forward still fails.
    assert_eq!(check("forward", vec![v1], renamed).len(), 1);
}

#[test]
fn a_renamed_field_is_compatible_through_a_field_alias() {
    let v1 = user(json!([{"name": "id", "type": "string"}]));
    let v2 = user(json!([{"name": "userId", "type": "string", "aliases": ["id"]}]));
    assert!(check("backward", vec![v1.clone()], v2).is_empty());
    let v3 = user(json!([{"name": "userId", "type": "string"}]));
    assert_eq!(check("backward", vec![v1], v3).len(), 1);
}

#[test]
fn a_namespace_change_is_compatible_as_in_confluent() {
    let v1 = json!({"type": "record", "name": "Outer", "namespace": "a", "fields": [
        {"name": "x", "type": ["null", {"type": "record", "name": "Inner", "fields": [{"name": "v", "type": "int"}]}]}]});
    let mut v2 = v1.clone();
    v2["namespace"] = json!("b");
    assert!(check("full", vec![v1.clone()], v2.clone()).is_empty());
    v2["fields"][0]["type"][1]["fields"][0]["type"] = json!("string");
    assert_eq!(
        check("backward", vec![v1], v2),
        [
            "backward against version 1: x.Inner.v: TYPE_MISMATCH: reader type STRING is not compatible with writer type INT"
        ]
    );
}

#[test]
fn enums_need_every_writer_symbol_or_a_default() {
    let e = |symbols: Value, default: Option<&str>| {
        let mut t = json!({"type": "enum", "name": "Status", "symbols": symbols});
        if let Some(d) = default {
            t["default"] = json!(d);
        }
        user(json!([{"name": "s", "type": t}]))
    };
    let v1 = e(json!(["ACTIVE", "INACTIVE"]), None);
    let v2 = e(json!(["ACTIVE", "INACTIVE", "PAUSED"]), None);
    assert!(check("backward", vec![v1.clone()], v2.clone()).is_empty());
    assert_eq!(
        check("forward", vec![v1], v2.clone()),
        [
            "forward against version 1: s: MISSING_ENUM_SYMBOLS: reader enum com.acme.Status lacks symbols [PAUSED] and has no default"
        ]
    );
    let v1_default = e(json!(["ACTIVE", "INACTIVE"]), Some("ACTIVE"));
    assert!(check("forward", vec![v1_default], v2).is_empty());
}

#[test]
fn fixed_sizes_must_match() {
    let f = |size: u32| user(json!([{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": size}}]));
    assert_eq!(
        check("backward", vec![f(16)], f(32)),
        ["backward against version 1: h: FIXED_SIZE_MISMATCH: expected: 16, found: 32"]
    );
}

#[test]
fn transitive_modes_check_every_earlier_version() {
    let v1 = user(json!([{"name": "id", "type": "string"}]));
    let v2 = user(json!([{"name": "id", "type": "string"}, {"name": "age", "type": "int", "default": 0}]));
    let v3 = user(json!([{"name": "id", "type": "string"}, {"name": "age", "type": "int"}]));
    // v3 reads v2's data (v2 always wrote age) but not v1's.
    assert!(check("backward", vec![v1.clone(), v2.clone()], v3.clone()).is_empty());
    assert_eq!(
        check("backward-transitive", vec![v1, v2], v3),
        [
            "backward against version 1: age: READER_FIELD_MISSING_DEFAULT_VALUE: reader field \"age\" has no default value and the writer has no such field"
        ]
    );
}

#[test]
fn recursive_schemas_terminate() {
    let list = |value: &str| {
        json!({"type": "record", "name": "Node", "fields": [
            {"name": "value", "type": value}, {"name": "next", "type": ["null", "Node"]}]})
    };
    assert!(check("full", vec![list("int")], list("int")).is_empty());
    assert!(check("backward", vec![list("int")], list("long")).is_empty());
    assert_eq!(check("forward", vec![list("int")], list("long")).len(), 1);
}

#[test]
fn none_mode_accepts_anything_and_modes_parse() {
    assert!(check("none", vec![user(json!([]))], json!("string")).is_empty());
    assert_eq!("FULL_TRANSITIVE".parse::<Mode>(), Ok(Mode::FullTransitive));
    assert!(
        "sideways"
            .parse::<Mode>()
            .unwrap_err()
            .contains("expected one of none, backward")
    );
}

//! What `load` stamps per flow (the key, flow ids, unique event ids) keeps
//! every message valid: for arbitrary flow specs over arbitrary schemas,
//! Avro and JSON Schema, with keys under patterns, UUIDs and digit hints,
//! and states from enum fields, string fields and union branches at any
//! depth, every stamped event decodes and passes the validator.

use std::sync::Arc;

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use flowharness::flow::FlowSpec;
use flowharness::flow::generator::Mix;
use flowharness::generate::fakes::Rng;
use flowharness::generate::hints::Hints;
use flowharness::load::templates::{Pool, decode_check};
use flowharness::schema::Schema;

/// The key field: its name, and its schema (JSON Schema or Avro type).
#[derive(Debug, Clone)]
enum Key {
    Pattern(&'static str),
    Uuid,
    /// `accountId`: the built-in hint draws 7 digits.
    Digits,
}

#[derive(Debug, Clone)]
struct Design {
    json: bool,
    key: Key,
    id_pattern: Option<&'static str>,
    /// The state field (or union) one record down, in `meta`.
    nested: bool,
    /// Avro only: the state is a union branch rather than an enum.
    union: bool,
    states: usize,
}

fn design() -> impl Strategy<Value = Design> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "^C[0-9]{6}$",
            "^[A-Z]{2}-[0-9]{4}$",
            "^acct_[a-z0-9]{8}$",
            "^[0-9]{3}[A-F]{2}$"
        ])
        .prop_map(Key::Pattern),
        Just(Key::Uuid),
        Just(Key::Digits),
    ];
    let id = prop::option::of(prop::sample::select(vec!["^F[0-9]{9}$", "^flow-[a-z]{6}$"]));
    (any::<bool>(), key, id, any::<bool>(), any::<bool>(), 2usize..5).prop_map(
        |(json, key, id_pattern, nested, union, states)| Design {
            json,
            // Avro keys with a pattern are spelt by the hint instead.
            key: match (&key, json) {
                (Key::Pattern(_), false) => Key::Digits,
                _ => key,
            },
            id_pattern: if json { id_pattern } else { None },
            nested,
            union: union && !json,
            states,
        },
    )
}

fn key_name(d: &Design) -> &'static str {
    match d.key {
        Key::Digits => "accountId",
        _ => "customerRef",
    }
}

fn state_names(d: &Design) -> Vec<String> {
    (0..d.states).map(|i| format!("STEP_{i}")).collect()
}

fn json_schema(d: &Design) -> Value {
    let key = match d.key {
        Key::Pattern(p) => json!({"type": "string", "pattern": p}),
        Key::Uuid => json!({"type": "string", "format": "uuid"}),
        Key::Digits => json!({"type": "string", "pattern": "^[1-9][0-9]{6}$"}),
    };
    let id = match d.id_pattern {
        Some(p) => json!({"type": "string", "pattern": p}),
        None => json!({"type": "string", "format": "uuid"}),
    };
    let status = json!({"type": "string", "enum": state_names(d)});
    let mut properties = json!({
        key_name(d): key,
        "flowId": id,
        "eventId": {"type": "string", "format": "uuid"},
        "at": {"type": "string", "format": "date-time"},
    });
    let mut required = vec![key_name(d), "flowId", "eventId", "at"];
    if d.nested {
        properties["meta"] = json!({
            "type": "object", "additionalProperties": false,
            "required": ["status"], "properties": {"status": status}
        });
        required.push("meta");
    } else {
        properties["status"] = status;
        required.push("status");
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

fn avro_schema(d: &Design) -> Value {
    let key = match d.key {
        Key::Uuid => json!({"type": "string", "logicalType": "uuid"}),
        _ => json!("string"),
    };
    let state = if d.union {
        let branches: Vec<Value> = (0..d.states)
            .map(|i| json!({"type": "record", "name": format!("Step{i}"), "fields": [{"name": "note", "type": "string"}]}))
            .collect();
        json!({"name": "payload", "type": branches})
    } else {
        json!({"name": "status", "type": {"type": "enum", "name": "Status", "symbols": state_names(d)}})
    };
    let mut fields = vec![
        json!({"name": key_name(d), "type": key}),
        json!({"name": "flowId", "type": {"type": "string", "logicalType": "uuid"}}),
        json!({"name": "eventId", "type": {"type": "string", "logicalType": "uuid"}}),
        json!({"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}),
    ];
    if d.nested {
        fields.push(json!({"name": "meta", "type": {"type": "record", "name": "Meta", "fields": [state]}}));
    } else {
        fields.push(state);
    }
    json!({"type": "record", "name": "Event", "namespace": "test.stamps", "fields": fields})
}

fn spec_text(d: &Design) -> String {
    let at = if d.nested { "meta." } else { "" };
    let names = state_names(d);
    let (source, selectors): (String, Vec<String>) = if d.union {
        (
            format!("union = \"{at}payload\""),
            (0..d.states).map(|i| format!("Step{i}")).collect(),
        )
    } else {
        (format!("field = \"{at}status\""), names.clone())
    };
    let states: Vec<String> = names
        .iter()
        .zip(&selectors)
        .map(|(n, s)| format!("{n} = \"{s}\""))
        .collect();
    let transitions: Vec<String> = names
        .windows(2)
        .map(|w| format!("{} = {{ {} = 1 }}", w[0], w[1]))
        .collect();
    let path: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "name = \"stamps\"\nschema = \"schema\"\ntopic = \"t\"\nkey = \"{key}\"\n\n[state]\n{source}\n\n[states]\n{states}\n\n\
         [flow]\nid = \"flowId\"\nstart = [\"{first}\"]\nend = [\"{last}\"]\nunique = [\"eventId\"]\n\n\
         [transitions]\n{transitions}\n\n[paths]\nmain = [{path}]\n\n[timing]\nmonotonic = [\"at\"]\n",
        key = key_name(d),
        states = states.join("\n"),
        first = names[0],
        last = names[names.len() - 1],
        transitions = transitions.join("\n"),
        path = path.join(", "),
    )
}

fn encode(schema: &Schema) -> impl Fn(&Value, usize) -> flowharness::error::Result<Vec<u8>> + '_ {
    move |v, _| flowharness::verify::encode(schema, 1, v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn stamped_events_pass_the_validator_for_any_spec_over_any_schema(d in design(), seed in any::<u64>()) {
        let schema_json = if d.json { json_schema(&d) } else { avro_schema(&d) };
        let schema = Schema::from_value(&schema_json).unwrap();
        let loaded = schema.clone();
        let spec = FlowSpec::parse(&spec_text(&d), &|_| Ok(loaded.clone()))
            .unwrap_or_else(|e| panic!("{e}\n{}", spec_text(&d)));
        let hints = Arc::new(Hints::builtin(1_790_000_000_000));
        let pool = Pool::build(&spec, &Mix::uniform(&spec), hints, 24, seed, &encode(&schema))
            .unwrap_or_else(|e| panic!("the pool refused a stampable design {d:?}: {e}"));
        pool.check_stamps(&spec, seed).unwrap();
        let mut rng = Rng::seed_from_u64(seed);
        let (mut key, mut ids, mut out) = (Vec::new(), Vec::new(), Vec::new());
        let mut keys = std::collections::HashSet::new();
        for account in 0..200u64 {
            let t = &pool.templates[rng.random_range(0..pool.templates.len())];
            let index = account * (pool.key_capacity() / 200).max(1);
            pool.key(index, &mut key);
            prop_assert!(keys.insert(key.clone()), "two accounts got the key {}", String::from_utf8_lossy(&key));
            t.fresh_ids(&mut rng, &mut ids);
            for i in 0..t.events.len() {
                t.stamp(i, &key, &ids, &mut rng, &mut out);
                prop_assert_eq!(decode_check(&spec, &out), None, "account {} event {} of {:?}", account, i, d);
            }
        }
    }
}

#[test]
fn a_pattern_key_is_stamped_inside_its_pattern() {
    // The case: `customerId` under `^C[0-9]{6}$` was stamped as `A000005`.
    let d = Design {
        json: true,
        key: Key::Pattern("^C[0-9]{6}$"),
        id_pattern: None,
        nested: false,
        union: false,
        states: 3,
    };
    let schema = Schema::from_value(&json_schema(&d)).unwrap();
    let loaded = schema.clone();
    let spec = FlowSpec::parse(&spec_text(&d), &|_| Ok(loaded.clone())).unwrap();
    let hints = Arc::new(Hints::builtin(1_790_000_000_000));
    let pool = Pool::build(&spec, &Mix::uniform(&spec), hints, 64, 5, &encode(&schema)).unwrap();
    let re = regex::Regex::new("^C[0-9]{6}$").unwrap();
    let mut key = Vec::new();
    for i in [0, 1, 5, 999, 123_456] {
        pool.key(i, &mut key);
        let text = String::from_utf8(key.clone()).unwrap();
        assert!(re.is_match(&text), "key {text}");
    }
    assert_eq!(pool.key_capacity(), 1_000_000);
}

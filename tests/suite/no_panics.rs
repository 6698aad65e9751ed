//! Fuzzing: arbitrary and mangled input never panics the readers (the
//! fixture reader, the flow spec parser, schemas and hint files, the Avro
//! JSON decoder, the Confluent-framed Avro decoder). cargo-fuzz needs a
//! nightly toolchain, which this project's machines do not have, so these
//! are proptest targets: seeded by the committed fixture, spec and schema
//! (the corpus), shrinking any crash to a regression file committed beside
//! this one. `PROPTEST_CASES=100000 cargo test --release --test no_panics`
//! runs them longer.

use crate::common;

use flowharness::codec::{avro_json, binary, confluent};
use flowharness::fixture::Fixture;
use flowharness::flow::FlowSpec;
use flowharness::generate::hints::Hints;
use flowharness::schema::{Schema, avro_parse};
use proptest::prelude::*;

fn seed_text() -> String {
    std::fs::read_to_string(common::repo_path("fixtures/complex.json")).unwrap()
}

fn spec_text() -> String {
    std::fs::read_to_string(common::repo_path("flows/account-migration.toml")).unwrap()
}

/// Text near a valid document: one cut, one inserted run of characters.
fn mangled(original: String) -> impl Strategy<Value = String> {
    let len = original.len();
    (0..len, 0..len, "[\\PC]{0,8}").prop_map(move |(a, b, insert)| {
        let (a, b) = (a.min(b), a.max(b));
        let mut s = original.clone();
        let (a, b) = (floor(&s, a), floor(&s, b));
        s.replace_range(a..b, &insert);
        s
    })
}

/// Cases per target: 300, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The seed's message, as Avro JSON text.
fn message_text() -> String {
    let seed: serde_json::Value = serde_json::from_str(&seed_text()).unwrap();
    serde_json::to_string_pretty(&seed["0"]["messages"][0]).unwrap()
}

/// A valid framed datum with some bytes changed and maybe cut short.
fn mangled_datum() -> impl Strategy<Value = Vec<u8>> {
    let schema = common::migration_schema();
    let value: serde_json::Value = serde_json::from_str(&message_text()).unwrap();
    let mut framed = confluent::frame(7, &[]);
    framed.extend(binary::encode_to_vec(&schema, &value).unwrap());
    let len = framed.len();
    (prop::collection::vec((0..len, any::<u8>()), 0..6), 0..=len).prop_map(move |(changes, cut)| {
        let mut bytes = framed.clone();
        for (i, b) in changes {
            bytes[i] = b;
        }
        bytes.truncate(cut.max(5));
        bytes
    })
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_fixture_reader_never_panics(text in mangled(seed_text())) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, &text).unwrap();
        if let Err(e) = Fixture::load(&path) {
            prop_assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
        }
    }

    #[test]
    fn the_flow_spec_parser_never_panics(text in mangled(spec_text())) {
        let schema = std::fs::read_to_string(common::repo_path("schemas/account-migration-event.avsc")).unwrap();
        let load = |_: &str| Schema::from_value(&serde_json::from_str(&schema).unwrap());
        let _ = FlowSpec::parse(&text, &load);
    }

    #[test]
    fn the_schema_and_hint_parsers_never_panic(text in "[\\PC]{0,200}", json in mangled(seed_text())) {
        let _ = avro_parse::parse_str(&text);
        let _ = avro_parse::parse_str(&json);
        let _ = Hints::from_toml(&text, None);
    }

    #[test]
    fn the_framed_decoder_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        datum in mangled_datum(),
    ) {
        let schema = common::migration_schema();
        for b in [&bytes, &datum] {
            if let Ok((_, payload)) = confluent::unframe(b) {
                let _ = binary::decode(&schema, payload);
            }
        }
    }

    #[test]
    fn the_avro_json_decoder_never_panics(text in mangled(message_text())) {
        let schema = common::migration_schema();
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
            let _ = avro_json::validate(&schema, &value);
            let _ = avro_json::normalize(&schema, &value);
            let _ = binary::encode_to_vec(&schema, &value);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// A mangled AsyncAPI document (YAML and JSON, with its $refs to
    /// components and to files beside it) is read or refused, never a panic.
    #[test]
    fn asyncapi_documents_never_panic(
        yaml in mangled(asyncapi_text("streetlights-kafka-2.6.yaml")),
        json in mangled(asyncapi_text("orders-3.0.json")),
        reply in mangled(asyncapi_text("payments-request-reply-3.0.yaml")),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let avro = common::repo_path("tests/asyncapi/avro");
        std::fs::create_dir_all(dir.path().join("avro")).unwrap();
        for entry in std::fs::read_dir(&avro).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join("avro").join(entry.file_name())).unwrap();
        }
        for (name, text) in [("a.yaml", yaml), ("b.json", json), ("c.yaml", reply)] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            if let Ok(doc) = flowharness::asyncapi::Document::load(&path) {
                let _ = flowharness::asyncapi::import::flow_spec_of(&doc);
                let _ = flowharness::asyncapi::init::overlay_text(&doc);
            }
        }
    }
}

/// The Protobuf example's contract and one of its messages, Confluent-framed
/// (header, message indexes, message).
fn proto_example() -> (flowharness::schema::ProtoSchema, Vec<u8>) {
    let schema =
        flowharness::schema::ProtoSchema::load(&common::repo_path("examples/protobuf/account_migration.proto"))
            .unwrap();
    let value = serde_json::json!({
        "metadata": {"event_id": "e-1", "trace_token": "t", "created_at": 1_700_000_000_000i64},
        "enrollment_id": "en-1", "account_id": "acc-1", "effective_enrollment_date": 19_000,
        "scheduled": {"mpan": "1200000000001", "supply_start_date": 19_001, "scheduled_at": 1_700_000_000_001i64}
    });
    let mut framed = confluent::frame(7, &[]);
    flowharness::codec::protobuf::encode_payload(&schema, &value, &mut framed).unwrap();
    (schema, framed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Protobuf on the wire: unknown message indexes, truncated varints
    /// and mangled messages are errors (schema-invalid findings), never
    /// panics; a `.proto` near a valid one compiles or is refused.
    #[test]
    fn the_protobuf_decoder_and_compiler_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        changes in prop::collection::vec((0usize..400, any::<u8>()), 0..6),
        cut in 0usize..400,
        proto in mangled(std::fs::read_to_string(common::repo_path("examples/protobuf/account_migration.proto")).unwrap()),
    ) {
        let (schema, framed) = proto_example();
        let mut datum = framed.clone();
        for (i, b) in changes {
            let i = i % datum.len();
            datum[i] = b;
        }
        datum.truncate(cut.max(5).min(datum.len()));
        for b in [&bytes, &datum] {
            if let Ok((_, payload)) = confluent::unframe(b)
                && let Ok(value) = flowharness::codec::protobuf::decode_payload(&schema, payload)
            {
                let _ = schema.validate(&value);
            }
        }
        let file = flowharness::schema::protobuf::ProtoFile { name: "m.proto".into(), source: proto };
        let _ = flowharness::schema::ProtoSchema::from_sources(&file, &[], None);
    }
}

#[test]
fn unknown_message_indexes_and_truncated_varints_are_errors() {
    let (schema, framed) = proto_example();
    let (_, payload) = confluent::unframe(&framed).unwrap();
    assert_eq!(payload[0..2], [2, 16], "the envelope is message 8: [8] zigzagged");
    // Message index 3 of 9 instead: another message, named as such.
    let mut other = payload.to_vec();
    other[1] = 6;
    let e = flowharness::codec::protobuf::decode_payload(&schema, &other).unwrap_err();
    assert!(e.to_string().contains("[3]"), "{e}");
    // The index count's varint cut short.
    let e = flowharness::codec::protobuf::decode_payload(&schema, &[0x80]).unwrap_err();
    assert!(e.to_string().contains("truncated varint"), "{e}");
    // The message cut inside a field.
    let e = flowharness::codec::protobuf::decode_payload(&schema, &payload[..payload.len() - 3]).unwrap_err();
    assert!(!e.to_string().is_empty());
}

fn asyncapi_text(name: &str) -> String {
    std::fs::read_to_string(common::repo_path(&format!("tests/asyncapi/{name}"))).unwrap()
}

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

fn asyncapi_text(name: &str) -> String {
    std::fs::read_to_string(common::repo_path(&format!("tests/asyncapi/{name}"))).unwrap()
}

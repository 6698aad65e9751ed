//! Arbitrary input never panics the readers: fixtures, flow specs, schemas,
//! hint files, Confluent-framed datums. (Issue 8 asks for fuzzing; these
//! property tests hold the line until then.)

mod common;

use flowharness::codec::{binary, confluent};
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

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

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
    fn the_framed_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let schema = common::migration_schema();
        if let Ok((_, payload)) = confluent::unframe(&bytes) {
            let _ = binary::decode(&schema, payload);
        }
    }
}

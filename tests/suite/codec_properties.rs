//! Round trips for arbitrary schemas, cross-checked with apache-avro, and
//! the encoder and validator agreeing on arbitrary input.

use crate::common;

use std::sync::Arc;

use common::{arbitrary_schema, to_apache};
use flowharness::codec::{avro_json, binary};
use flowharness::generate;
use flowharness::schema::avro_parse;
use proptest::prelude::*;
use serde_json::Value;

fn schema_and_value() -> impl Strategy<Value = (Value, Value)> {
    arbitrary_schema().prop_flat_map(|json| {
        let schema = Arc::new(avro_parse::parse_value(&json).unwrap_or_else(|e| panic!("{e}\n{json:#}")));
        (Just(json), generate::avro::strategy(&schema))
    })
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zS0-9]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 20, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    "(f[0-4]|S[0-2]|[a-z]{1,3}|string|int|long|null|test\\.gen\\.R[0-9])",
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn binary_and_json_round_trip_and_match_apache_avro((json, value) in schema_and_value()) {
        let schema = avro_parse::parse_value(&json).unwrap();
        prop_assert!(avro_json::validate(&schema, &value).is_empty(), "{:?}", avro_json::validate(&schema, &value));
        let bytes = binary::encode_to_vec(&schema, &value).unwrap();
        let decoded = binary::decode(&schema, &bytes).unwrap();
        prop_assert_eq!(&decoded, &value);

        // apache-avro cannot write every decimal (it refuses some minimal
        // encodings Java writes), so decimals are checked by round trip only.
        if !json.to_string().contains("decimal") {
            let apache = apache_avro::Schema::parse(&json).unwrap();
            let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&apache).build().unwrap();
            let theirs = writer.write_value_to_vec(to_apache(&schema, schema.root(), &value)).unwrap();
            // apache-avro writes map entries in hash order, so bytes agree only
            // without maps; our decoder must read apache-avro's bytes either way.
            prop_assert_eq!(&binary::decode(&schema, &theirs).unwrap(), &value);
            if !json.to_string().contains("\"map\"") {
                prop_assert_eq!(&bytes, &theirs);
            }
        }

        let text = serde_json::to_string(&value).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &value);
    }

    #[test]
    fn encoder_accepts_exactly_what_the_validator_accepts((json, _v) in schema_and_value(), candidate in arbitrary_json()) {
        let schema = avro_parse::parse_value(&json).unwrap();
        let violations = avro_json::validate(&schema, &candidate);
        match binary::encode_to_vec(&schema, &candidate) {
            Ok(bytes) => {
                prop_assert!(violations.is_empty());
                // The bytes round trip: what they decode to encodes to them.
                let decoded = binary::decode(&schema, &bytes).unwrap();
                prop_assert_eq!(binary::encode_to_vec(&schema, &decoded).unwrap(), bytes);
            }
            Err(reported) => {
                prop_assert!(!violations.is_empty());
                prop_assert_eq!(reported, violations);
            }
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes((json, _v) in schema_and_value(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let schema = avro_parse::parse_value(&json).unwrap();
        if let Ok(value) = binary::decode(&schema, &bytes) {
            // Whatever decodes is valid and encodes back to the same bytes.
            prop_assert!(avro_json::validate(&schema, &value).is_empty());
        }
    }
}

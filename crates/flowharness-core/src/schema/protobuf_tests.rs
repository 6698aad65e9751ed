use std::path::Path;

use serde_json::json;

use super::*;
use crate::codec::protobuf as wire;

fn orders() -> ProtoSchema {
    ProtoSchema::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/proto/order_status.proto"
    )))
    .expect("order_status.proto compiles")
}

fn placed() -> serde_json::Value {
    json!({
        "order_id": "ord-000123",
        "customer_id": "cus-42",
        "status": "PLACED",
        "changed_at": "2026-12-03T10:15:00Z",
        "total": {"amount_minor": 1999, "currency": "GBP"},
        "lines": [{"sku": "SKU-1", "quantity": 2}],
        "labels": {"channel": "web"}
    })
}

#[test]
fn the_root_message_is_the_one_no_other_uses_and_imports_are_kept() {
    let s = orders();
    assert_eq!(s.name(), "OrderStatusChanged");
    assert_eq!(s.indexes(), [0]);
    assert_eq!(s.file().name, "order_status.proto");
    let imports: Vec<&str> = s.imports().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(imports, ["common.proto"], "google's files are not references");
    assert!(s.imports()[0].source.contains("message Money"));
}

#[test]
fn a_message_round_trips_through_bytes_as_proto3_json_with_proto_names() {
    let s = orders();
    let mut bytes = Vec::new();
    wire::encode_payload(&s, &placed(), &mut bytes).unwrap();
    assert_eq!(bytes[0], 0, "message index [0] is one zero byte");
    let back = wire::decode_payload(&s, &bytes).unwrap();
    // Every field is written back, defaults included; 64-bit as numbers.
    assert_eq!(back["order_id"], "ord-000123");
    assert_eq!(back["status"], "PLACED");
    assert_eq!(back["total"]["amount_minor"], 1999);
    assert_eq!(back["changed_at"], "2026-12-03T10:15:00Z");
    assert_eq!(back["lines"][0]["quantity"], 2);
    assert_eq!(back["labels"]["channel"], "web");
    assert!(back.get("note").is_none(), "an unset optional stays unset: {back}");
    assert!(s.validate(&back).is_empty(), "{:?}", s.validate(&back));
}

#[test]
fn violations_name_the_proto_field_path() {
    let s = orders();
    let mut bad = placed();
    bad["status"] = json!("LOST");
    bad["lines"][0]["quantity"] = json!("two");
    bad["colour"] = json!("red");
    let v = s.validate(&bad);
    let paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
    assert!(paths.contains(&"status"), "{v:?}");
    assert!(paths.contains(&"lines[0].quantity"), "{v:?}");
    assert!(v.iter().any(|v| v.message.contains("colour")), "{v:?}");
    // What a proto3 JSON parser accepts is accepted: defaults left out,
    // 64-bit integers as strings, enums as numbers.
    let lenient = json!({"order_id": "o", "status": 2, "total": {"amount_minor": "1999"}});
    assert!(s.validate(&lenient).is_empty(), "{:?}", s.validate(&lenient));
    let bytes = wire::encode_message(&s, &lenient).expect("a lenient value encodes");
    let back = wire::decode_message(&s, &bytes).expect("and decodes");
    assert_eq!(back["status"], json!("PAID"), "{back}");
    assert_eq!(back["total"]["amount_minor"], json!(1999), "{back}");
}

#[test]
fn a_proto_that_does_not_compile_names_file_line_and_column() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/proto/broken.proto"));
    let e = ProtoSchema::load(path).unwrap_err().to_string();
    assert!(e.contains("broken.proto"), "{e}");
    assert!(
        e.contains("6:3"),
        "line 6, column 3, where `string` follows the missing `;`: {e}"
    );
}

#[test]
fn oneofs_are_a_choice_and_two_members_set_is_a_violation() {
    let file = ProtoFile {
        name: "shipment.proto".into(),
        source: r#"
            syntax = "proto3";
            package logistics;
            message Picked { string picker = 1; }
            message Dispatched { string carrier = 1; int64 dispatched_at = 2; }
            message ShipmentEvent {
              string shipment_id = 1;
              oneof event {
                Picked picked = 2;
                Dispatched dispatched = 3;
              }
            }
        "#
        .into(),
    };
    let s = ProtoSchema::from_sources(&file, &[], None).unwrap();
    assert_eq!(s.name(), "ShipmentEvent");
    assert_eq!(s.indexes(), [2]);
    assert_eq!(
        s.oneofs(),
        [(
            "".to_string(),
            "event".to_string(),
            vec!["picked".to_string(), "dispatched".to_string()]
        )]
    );
    let both = json!({"shipment_id": "s1", "picked": {"picker": "ann"}, "dispatched": {"carrier": "dhl"}});
    let v = s.validate(&both);
    assert!(
        v.iter()
            .any(|v| v.path == "event" && v.message.contains("2 members set")),
        "{v:?}"
    );
    let one = json!({"shipment_id": "s1", "dispatched": {"carrier": "dhl", "dispatched_at": 1_790_000_000_000_i64}});
    let mut bytes = Vec::new();
    wire::encode_payload(&s, &one, &mut bytes).unwrap();
    assert_eq!(&bytes[..2], [2, 4], "indexes [2]: count 1 then 2, zigzagged");
    let back = wire::decode_payload(&s, &bytes).unwrap();
    assert_eq!(back["dispatched"]["dispatched_at"], 1_790_000_000_000_i64);
    assert!(back.get("picked").is_none());
    // Another message's indexes are a finding, not a panic.
    let mut other = vec![2, 2];
    other.extend_from_slice(&bytes[2..]);
    assert!(matches!(
        wire::decode_payload(&s, &other),
        Err(wire::ProtoError::OtherMessage { .. })
    ));
    // A truncated message is an error too.
    let truncated = wire::decode_payload(&s, &bytes[..bytes.len() - 3]).unwrap_err();
    assert!(matches!(truncated, wire::ProtoError::Decode { .. }), "{truncated}");
}

#[test]
fn any_bytes_decode_to_a_value_or_an_error_never_a_panic() {
    use rand::{RngExt, SeedableRng};
    let s = orders();
    let mut good = Vec::new();
    wire::encode_payload(&s, &placed(), &mut good).unwrap();
    let mut rng = crate::generate::fakes::Rng::seed_from_u64(9);
    for i in 0..5_000 {
        let mut bytes = if i % 2 == 0 {
            good.clone()
        } else {
            (0..rng.random_range(0..64)).map(|_| rng.random::<u8>()).collect()
        };
        if !bytes.is_empty() {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
            let cut = rng.random_range(0..=bytes.len());
            bytes.truncate(cut);
        }
        let _ = wire::decode_payload(&s, &bytes);
    }
}

#[test]
fn well_known_types_generate_encode_decode_and_validate() {
    let file = ProtoFile {
        name: "shipment.proto".into(),
        source: r#"syntax = "proto3";
package logistics;
import "google/protobuf/duration.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message ShipmentDelayed {
  string shipment_id = 1;
  google.protobuf.Timestamp noticed_at = 2;
  google.protobuf.Duration delay = 3;
  google.protobuf.StringValue reason = 4;
  google.protobuf.Int64Value weight_grams = 5;
  google.protobuf.BoolValue fragile = 6;
  repeated string stops = 7;
  map<string, int32> pallets = 8;
  optional int32 attempt = 9;
}"#
        .into(),
    };
    let s = ProtoSchema::from_sources(&file, &[], None).expect("compiles with Google's files built in");
    assert!(s.imports().is_empty(), "Google's files are built in, not references");
    let schema = crate::schema::Schema::Protobuf(Box::new(s.clone()));
    let hints = std::sync::Arc::new(crate::generate::hints::Hints::builtin(1_764_000_000_000));
    let strategy = crate::generate::sample::strategy(&schema, &hints, None).expect("a strategy");
    for value in crate::generate::sample::values(&strategy, 50, 7).expect("values") {
        let mut bytes = Vec::new();
        wire::encode_payload(&s, &value, &mut bytes).unwrap_or_else(|e| panic!("{value}: {e}"));
        let back = wire::decode_payload(&s, &bytes).expect("decodes");
        assert!(s.validate(&back).is_empty(), "{back}: {:?}", s.validate(&back));
        assert!(
            back["delay"].as_str().is_some_and(|d| d.ends_with('s')),
            "a Duration is \"1.5s\": {back}"
        );
        assert!(back["noticed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{back}");
    }
    // A wrapper takes its bare value; a Duration must be a duration string.
    let mut bad = json!({"shipment_id": "s-1", "reason": "storm", "delay": 90});
    assert!(
        s.validate(&bad).iter().any(|v| v.to_string().contains("delay")),
        "{:?}",
        s.validate(&bad)
    );
    bad["delay"] = json!("90s");
    assert!(s.validate(&bad).is_empty(), "{:?}", s.validate(&bad));
}

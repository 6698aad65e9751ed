//! Flow specs for event designs other than the seed's, written here as a
//! user would write them: envelopes with a payload union (at the root and
//! deeper), one record with an enum status, JSON Schema with a pattern and
//! a string state, timing with and without an anchor. Each is checked to
//! load, to generate flow sets the checker passes, and to refuse bad specs
//! naming the key and the path.

use crate::common;

use common::flow_options;
use flowharness::flow::checker::{CheckOptions, Checker, Report, Rule};
use flowharness::flow::fixture_io::as_observed;
use flowharness::flow::generator::FlowGenerator;
use flowharness::flow::{FlowSpec, Severity, shipped};
use flowharness::schema::Schema;
use serde_json::{Value, json};

fn parse(spec: &str, schema: Value) -> Result<FlowSpec, String> {
    let schema = Schema::from_value(&schema).unwrap();
    FlowSpec::parse(spec, &|_| Ok(schema.clone())).map_err(|e| e.to_string())
}

fn check_generated(spec: &FlowSpec, flows: usize, seeds: std::ops::Range<u64>) -> Report {
    let generator = FlowGenerator::new(spec, flow_options(spec, flows, "")).unwrap();
    let mut total = Report::default();
    for seed in seeds {
        let messages = generator.generate(seed).unwrap();
        let mut checker = Checker::new(
            spec,
            CheckOptions {
                incomplete: Some(Severity::Error),
                ..CheckOptions::default()
            },
        );
        for m in as_observed(&messages, 3) {
            checker.observe(&m);
        }
        let report = checker.finish();
        assert!(report.findings.is_empty(), "seed {seed}: {:#?}", report.findings);
        total.messages += report.messages;
        total.flows_started += report.flows_started;
    }
    total
}

/// A shipment envelope whose union sits one record down, in `body.event`,
/// and whose key is a top-level field.
fn shipment_schema() -> Value {
    json!({
        "type": "record", "name": "ShipmentEnvelope", "namespace": "logistics",
        "fields": [
            {"name": "shipmentId", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "sentAt", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "body", "type": {"type": "record", "name": "Body", "fields": [
                {"name": "event", "type": [
                    {"type": "record", "name": "Booked", "fields": [{"name": "depot", "type": "string"}]},
                    {"type": "record", "name": "PickedUp", "fields": [{"name": "driver", "type": "string"}, {"name": "shipmentId", "type": "string"}]},
                    {"type": "record", "name": "Delivered", "fields": [{"name": "signedBy", "type": ["null", "string"], "default": null}]}
                ]}
            ]}}
        ]
    })
}

const SHIPMENT_SPEC: &str = r#"
name = "shipment"
schema = "shipment.avsc"
topic = "shipments"
key = "shipmentId"

[state]
union = "body.event"

[states]
Booked = "Booked"
PickedUp = "logistics.PickedUp"
Delivered = "Delivered"

[flow]
id = "shipmentId"
start = ["Booked"]
end = ["Delivered"]

[transitions]
Booked = { PickedUp = 1 }
PickedUp = { Delivered = 1 }

[paths]
delivered = ["Booked", "PickedUp", "Delivered"]

[timing]
monotonic = ["sentAt"]

[timing.states]
PickedUp = { field = "sentAt", within_previous = "1d" }
Delivered = { field = "sentAt", after_previous = "10m", within_start = "3d" }
"#;

#[test]
fn a_path_named_in_the_root_and_in_the_branch_must_be_written_in_full() {
    let e = parse(SHIPMENT_SPEC, shipment_schema()).unwrap_err();
    assert_eq!(
        e,
        "key: \"shipmentId\" names both shipmentId and body.event.PickedUp.shipmentId in state PickedUp: \
         write the full path of the one you mean\n\
         flow.id[0]: \"shipmentId\" names both shipmentId and body.event.PickedUp.shipmentId in state PickedUp: \
         write the full path of the one you mean"
    );
}

#[test]
fn a_union_one_record_down_gives_the_states_and_micros_times_hold() {
    // The branch's own field renamed, the envelope's is the only one.
    let schema = serde_json::from_str(&shipment_schema().to_string().replace(
        r#"{"name":"shipmentId","type":"string"}"#,
        r#"{"name":"parcelRef","type":"string"}"#,
    ))
    .unwrap();
    let spec = parse(SHIPMENT_SPEC, schema).unwrap();
    assert_eq!(spec.key().at(1).map(|p| p.text()), Some("shipmentId"));
    let report = check_generated(&spec, 10, 0..8);
    assert_eq!(report.flows_started, 80);
    assert_eq!(report.messages, 240);
}

fn ticket_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["ticket", "status", "changedAt"],
        "properties": {
            "ticket": {"type": "object", "required": ["ref"], "properties": {"ref": {"type": "string", "pattern": "^TCK-[0-9]{5}$"}}},
            "status": {"type": "string", "enum": ["OPEN", "IN_PROGRESS", "RESOLVED"]},
            "changedAt": {"type": "string", "format": "date-time"},
            "resolution": {"type": "string", "minLength": 3}
        },
        "if": {"properties": {"status": {"const": "RESOLVED"}}},
        "then": {"required": ["resolution"]}
    })
}

const TICKET_SPEC: &str = r#"
name = "ticket"
schema = "ticket.schema.json"
topic = "tickets"
key = "ticket.ref"

[state]
field = "status"

[states]
Open = "OPEN"
Working = "IN_PROGRESS"
Resolved = "RESOLVED"

[flow]
id = "ticket.ref"
start = ["Open"]
end = ["Resolved"]

[transitions]
Open = { Working = 3, Resolved = 1 }
Working = { Resolved = 1 }

[paths]
worked = ["Open", "Working", "Resolved"]
quick = ["Open", "Resolved"]

[timing]
monotonic = ["changedAt"]

[timing.states]
Resolved = { field = "changedAt", within_start = "5d" }
"#;

#[test]
fn a_json_schema_string_state_with_a_conditional_is_built_in_and_iso_times_hold() {
    let spec = parse(TICKET_SPEC, ticket_schema()).unwrap();
    let report = check_generated(&spec, 12, 0..6);
    assert_eq!(report.flows_started, 72);
    // RESOLVED requires a resolution: the state is pinned in the schema, so the generator satisfies it.
    let messages = FlowGenerator::new(&spec, flow_options(&spec, 5, "quick=1"))
        .unwrap()
        .generate(1)
        .unwrap();
    let resolved: Vec<&Value> = messages
        .iter()
        .map(|m| &m.value)
        .filter(|v| v["status"] == "RESOLVED")
        .collect();
    assert_eq!(resolved.len(), 5);
    assert!(
        resolved
            .iter()
            .all(|v| v["resolution"].as_str().is_some_and(|r| r.len() >= 3))
    );
}

#[test]
fn an_anchor_in_iso_text_is_read_and_written_in_its_own_unit() {
    let spec_text = TICKET_SPEC.replace(
        "[timing]\nmonotonic = [\"changedAt\"]",
        "[timing]\nanchor = \"dueOn\"\nmonotonic = [\"changedAt\"]",
    ) + "Working = { field = \"changedAt\", before = \"1d\" }\n";
    let mut schema = ticket_schema();
    schema["properties"]["dueOn"] = json!({"type": "string", "format": "date"});
    schema["required"] = json!(["ticket", "status", "changedAt", "dueOn"]);
    let spec = parse(&spec_text, schema).unwrap();
    let report = check_generated(&spec, 6, 0..4);
    assert_eq!(report.flows_started, 24);
    let messages = FlowGenerator::new(&spec, flow_options(&spec, 1, "worked=1"))
        .unwrap()
        .generate(2)
        .unwrap();
    let due = messages[0].value["dueOn"].as_str().unwrap();
    assert!(
        regex::Regex::new("^[0-9]{4}-[0-9]{2}-[0-9]{2}$").unwrap().is_match(due),
        "{due}"
    );
    assert!(
        messages.iter().all(|m| m.value["dueOn"] == due),
        "the anchor is the flow's own"
    );
}

#[test]
fn bad_designs_are_refused_naming_the_key_and_the_path() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "key = \"ticket.ref\"",
            "key = \"ticket.reference\"",
            "key: field \"ticket.reference\" is missing from state Open: the schema has no property \"reference\" at ticket",
        ),
        (
            "field = \"status\"",
            "field = \"state\"",
            "state.field: \"state\" names no field: the schema has no property \"state\" at the message",
        ),
        (
            "field = \"status\"",
            "union = \"status\"",
            "state.union: a JSON Schema has no unions to take states from",
        ),
        (
            "within_start = \"5d\"",
            "within = \"5d\"",
            "timing.states.Resolved.within: within goes with at; for a window after the previous event write within_previous",
        ),
        (
            "within_start = \"5d\"",
            "after = \"5d\"",
            "timing.states.Resolved: at, before and after are relative to T0: give timing.anchor",
        ),
        (
            "monotonic = [\"changedAt\"]",
            "monotonic = [\"ticket\"]",
            "timing.monotonic[0]: ticket holds no time",
        ),
    ];
    for (from, to, expected) in cases {
        let e = parse(&TICKET_SPEC.replace(from, to), ticket_schema()).unwrap_err();
        assert!(
            e.starts_with(expected),
            "{to}:\n{e}\nexpected to start with\n{expected}"
        );
    }
    let payment = std::fs::read_to_string(common::repo_path("flows/payment-lifecycle.toml")).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(common::repo_path("schemas/payment.avsc")).unwrap()).unwrap();
    let e = parse(
        &payment.replace("Refunded = \"REFUNDED\"", "Refunded = \"REFUND\""),
        schema,
    )
    .unwrap_err();
    assert!(
        e.starts_with("states.Refunded: \"REFUND\" is not a symbol of enum PaymentStatus (CREATED, AUTHORIZED, CAPTURED, REFUNDED, FAILED)"),
        "{e}"
    );
}

#[test]
fn the_shipped_designs_generate_clean_flow_sets() {
    for name in ["order-saga", "payment-lifecycle"] {
        let spec = shipped::resolve(name).unwrap();
        let report = check_generated(&spec, 16, 0..6);
        assert_eq!(report.flows_started, 96, "{name}");
    }
}

#[test]
fn the_order_saga_breaks_are_named_by_rule() {
    let spec = shipped::resolve("order-saga").unwrap();
    let mut messages = FlowGenerator::new(&spec, flow_options(&spec, 1, "happy=1"))
        .unwrap()
        .generate(4)
        .unwrap();
    // The Shipped event a week after the payment: the 2-day window breaks.
    let shipped = 2;
    let authorized_at = messages[1].value["occurredAt"].as_i64().unwrap();
    messages[shipped].value["occurredAt"] = json!(authorized_at + 7 * 86_400_000);
    let mut checker = Checker::new(&spec, CheckOptions::default());
    for m in as_observed(&messages, 1) {
        checker.observe(&m);
    }
    let report = checker.finish();
    let rules: Vec<Rule> = report.counts.keys().copied().collect();
    assert_eq!(rules, [Rule::TimeBackwards, Rule::Timing], "{:#?}", report.findings);
}

/// A topic of measurements: one Avro record, no union, no status field.
/// Every message is the one state (`single = true`); each reading is a
/// flow of its own and the same sensor comes again.
#[test]
fn a_topic_with_no_state_field_is_one_state() {
    let schema = json!({
        "type": "record", "name": "Reading", "namespace": "meters",
        "fields": [
            {"name": "meterId", "type": "string"},
            {"name": "kwh", "type": "double"},
            {"name": "readAt", "type": {"type": "long", "logicalType": "timestamp-millis"}}
        ]
    });
    let text = r#"
name = "meter-readings"
schema = "reading.avsc"
topic = "meters.readings"
key = "meterId"
[state]
single = true
[states]
Read = {}
[flow]
id = "meterId"
start = ["Read"]
end = ["Read"]
restart_after = ["Read"]
"#;
    let spec = parse(text, schema.clone()).unwrap();
    assert_eq!(spec.classify(&json!({"meterId": "m1", "kwh": 1.5, "readAt": 1})), Ok(0));
    let total = check_generated(&spec, 25, 0..4);
    assert_eq!(total.flows_started, 100);
    // A state value, or two states on a single topic, are refused by key.
    let err = parse(&text.replace("Read = {}", "Read = { is = \"Read\" }"), schema.clone()).unwrap_err();
    assert!(err.contains("states.Read.is") && err.contains("single"), "{err}");
    let err = parse(&text.replace("Read = {}", "Read = {}\nAgain = {}"), schema.clone()).unwrap_err();
    assert!(err.contains("state.single") && err.contains("2 states"), "{err}");
    let err = parse(
        &text.replace("single = true", "single = true\nfield = \"meterId\""),
        schema,
    )
    .unwrap_err();
    assert!(err.contains("single = true takes no union, field or record"), "{err}");
}

/// A request and its reply carry one correlation id in a header
/// (`[flow] id_header`): generated messages carry the flow id there, and
/// the checker finds a message without it, or with another flow's.
#[test]
fn a_correlation_header_is_written_and_checked_per_flow() {
    let schema = json!({
        "type": "object",
        "required": ["kind", "quoteId", "at"],
        "properties": {
            "kind": {"type": "string", "enum": ["QUOTE_REQUESTED", "QUOTE_GIVEN"]},
            "quoteId": {"type": "string", "pattern": "^q-[0-9]{6}$"},
            "at": {"type": "string", "format": "date-time"}
        }
    });
    let text = r#"
name = "quotes"
schema = "quote.schema.json"
topic = "quotes"
key = "quoteId"
[state]
field = "kind"
[states]
Requested = "QUOTE_REQUESTED"
Given = "QUOTE_GIVEN"
[flow]
id = "quoteId"
id_header = "correlationId"
start = ["Requested"]
end = ["Given"]
[transitions]
Requested = { Given = 1 }
"#;
    let spec = parse(text, schema.clone()).unwrap();
    let generator = FlowGenerator::new(&spec, flow_options(&spec, 20, "")).unwrap();
    let messages = generator.generate(5).unwrap();
    for m in &messages {
        assert_eq!(
            m.headers,
            vec![(
                "correlationId".to_string(),
                m.value["quoteId"].as_str().unwrap().to_string()
            )]
        );
    }
    let check = |observed: &[flowharness::flow::checker::Observed]| {
        let mut checker = Checker::new(&spec, CheckOptions::default());
        for o in observed {
            checker.observe(o);
        }
        checker.finish()
    };
    let clean = as_observed(&messages, 2);
    assert!(check(&clean).findings.is_empty());
    // The reply of one flow carries another value; a request carries none.
    let mut broken = clean.clone();
    let reply = broken
        .iter()
        .position(|o| o.value.as_ref().unwrap()["kind"] == "QUOTE_GIVEN")
        .unwrap();
    broken[reply].headers[0].1 = "q-999999".into();
    let other_flow = broken[reply].value.as_ref().unwrap()["quoteId"].clone();
    let request = broken
        .iter()
        .position(|o| {
            let v = o.value.as_ref().unwrap();
            v["kind"] == "QUOTE_REQUESTED" && v["quoteId"] != other_flow
        })
        .unwrap();
    broken[request].headers.clear();
    let report = check(&broken);
    let found: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::CorrelationHeader)
        .map(|f| f.message.clone())
        .collect();
    assert_eq!(found.len(), 2, "{:#?}", report.findings);
    assert!(
        found.iter().any(|m| m.contains("no header \"correlationId\"")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|m| m.contains("\"q-999999\"") && m.contains("earlier messages")),
        "{found:?}"
    );
}

/// A flow at rest in an end state it may still leave (Delivered, which a
/// return may follow) stays open for a window of resting flows, then is
/// closed as complete: memory follows open flows, and a return arriving
/// beyond the window is reported as after the flow's end.
#[test]
fn flows_resting_in_an_end_state_are_kept_for_a_window() {
    let schema: Value = serde_json::from_str(include_str!("../parcels/parcel.schema.json")).unwrap();
    let text = include_str!("../parcels/parcels.toml");
    let spec = parse(text, schema).unwrap();
    let event = |i: usize, offset: i64, status: &str| flowharness::flow::checker::Observed {
        topic: None,
        record: None,
        partition: 0,
        offset,
        key: Some(format!("p-{i:05}")),
        value: Ok(json!({"status": status, "parcelId": format!("p-{i:05}")})),
        headers: Vec::new(),
    };
    let run = |window: usize| {
        let mut checker = Checker::new(
            &spec,
            CheckOptions {
                dedupe_window: window,
                ..CheckOptions::default()
            },
        );
        let mut offset = 0;
        for i in 0..10 {
            for status in ["PLACED", "DELIVERED"] {
                checker.observe(&event(i, offset, status));
                offset += 1;
            }
        }
        // Parcel 0 comes back after nine more deliveries.
        checker.observe(&event(0, offset, "RETURNED"));
        checker.finish()
    };
    let wide = run(100);
    assert!(wide.findings.is_empty(), "{:#?}", wide.findings);
    assert_eq!(wide.complete_by_path.values().sum::<u64>(), 10);
    let narrow = run(3);
    let rules: Vec<Rule> = narrow.findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules.len(), 1, "{:#?}", narrow.findings);
    // Its key was forgotten too (the same window), so it reads as a flow
    // never started, and says it may have ended before the window.
    assert_eq!(rules[0], Rule::UnknownFlow, "{:#?}", narrow.findings);
    assert!(
        narrow.findings[0].message.contains("window of the last 3"),
        "{:#?}",
        narrow.findings
    );
    assert_eq!(narrow.complete_by_path.values().sum::<u64>(), 10);
}

//! AsyncAPI 2.x and 3.0: the conformance documents in `tests/asyncapi/`
//! (each parses, or is refused naming the file and JSON pointer), flows
//! from documents with overlays through the offline commands, `init`, and
//! export → import giving the same spec for every shipped flow.

use crate::common;

use std::path::{Path, PathBuf};

use common::{flowharness, repo_path};
use flowharness::asyncapi::{self, Document};
use flowharness::flow::{FlowSpec, shipped};

fn docs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo_path("tests/asyncapi"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| asyncapi::is_asyncapi(p))
        .collect();
    out.sort();
    out
}

#[test]
fn every_conformance_document_parses() {
    let docs = docs();
    assert!(docs.len() >= 5, "{docs:?}");
    let mut versions = std::collections::BTreeSet::new();
    for doc in &docs {
        let parsed = Document::load(doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        versions.insert(parsed.version_text.clone());
        assert!(!parsed.channels.is_empty());
    }
    assert!(versions.contains("2.6.0") && versions.contains("3.0.0"), "{versions:?}");
}

/// Each document under `bad/` is refused with the message its first line
/// expects (`# expect: ...`), or for JSON, the one listed here.
#[test]
fn bad_documents_are_refused_at_their_json_pointer() {
    let json_expectations = [(
        "bad-avro.json",
        "bad-avro.json#/channels/things/subscribe/message/payload: fields[0].type: unknown type \"strin\"",
    )];
    let dir = repo_path("tests/asyncapi/bad");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = match text.lines().next().and_then(|l| l.strip_prefix("# expect: ")) {
            Some(e) => e.to_string(),
            None => json_expectations
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name}: no expectation"))
                .1
                .to_string(),
        };
        let err = Document::load(&path).expect_err(&name).to_string();
        assert!(
            err.contains(&expected),
            "{name}:\n  got      {err}\n  expected {expected}"
        );
        assert!(err.starts_with(&path.display().to_string()), "{name}: {err}");
        seen += 1;
    }
    assert!(seen >= 10, "{seen} bad documents");
}

#[test]
fn documents_with_overlays_give_flows_across_formats_and_versions() {
    for (doc, topics, states) in [
        ("tests/asyncapi/orders-3.0.json", vec!["shop.orders.v1"], 4),
        (
            "tests/asyncapi/subscriptions-2.6.yaml",
            vec!["billing.invoices", "billing.subscriptions"],
            5,
        ),
        (
            "tests/asyncapi/payments-request-reply-3.0.yaml",
            vec!["payments.authorize.reply", "payments.authorize.request"],
            3,
        ),
    ] {
        let spec = asyncapi::flow_spec(&repo_path(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let got: Vec<&str> = spec.channels().iter().map(|c| c.topic.as_str()).collect();
        assert_eq!(got, topics, "{doc}");
        assert_eq!(spec.states().len(), states, "{doc}");
    }
    // A header correlationId is the flow's id_header: written and checked.
    let payments = asyncapi::flow_spec(&repo_path("tests/asyncapi/payments-request-reply-3.0.yaml")).unwrap();
    assert_eq!(payments.id_header(), Some("correlationId"));
    // The flow id defaults to the payload correlationId; the key to the id.
    let orders = asyncapi::flow_spec(&repo_path("tests/asyncapi/orders-3.0.json")).unwrap();
    assert_eq!(orders.source()["flow"]["id"], "orderId");
    assert_eq!(orders.name(), "shop-orders");
    assert!(
        orders.channels()[0].records,
        "several Avro messages: states by record type"
    );
}

/// generate, verify --file, fixture check, schema validate and sample,
/// each from a document, as a user runs them.
#[test]
fn offline_commands_take_a_document() {
    let dir = tempfile::tempdir().unwrap();
    for doc in [
        "tests/asyncapi/orders-3.0.json",
        "tests/asyncapi/subscriptions-2.6.yaml",
        "tests/asyncapi/payments-request-reply-3.0.yaml",
    ] {
        let doc = repo_path(doc);
        let doc = doc.to_str().unwrap();
        let out = dir.path().join("flows.jsonl");
        let out = out.to_str().unwrap();
        let (code, _, err) = flowharness(&["generate", "--flow", doc, "--flows", "40", "--seed", "3", "--out", out]);
        assert_eq!(code, 0, "{doc}: {err}");
        let (code, report, err) = flowharness(&["verify", "--file", out, "--flow", doc]);
        assert_eq!(code, 0, "{doc}: {report}{err}");
        assert!(report.contains("violations: 0"), "{report}");
        let (code, _, err) = flowharness(&["fixture", "check", out]);
        assert_eq!(code, 0, "{doc}: {err}");
        let (code, report, err) = flowharness(&["schema", "validate", doc]);
        assert_eq!(code, 0, "{doc}: {err}");
        assert!(report.starts_with("ok: "), "{report}");
    }
    let doc = repo_path("tests/asyncapi/orders-3.0.json");
    let arg = format!("{}#OrderShipped", doc.display());
    let (code, values, err) = flowharness(&["sample", "--schema", &arg, "--count", "3", "--seed", "1"]);
    assert_eq!(code, 0, "{err}");
    for line in values.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            ["DHL", "UPS", "POSTNL"].contains(&v["carrier"].as_str().unwrap()),
            "{v}"
        );
    }
    let (code, _, err) = flowharness(&["sample", "--schema", doc.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("several messages") && err.contains("OrderPaid"), "{err}");
}

/// A violation in a document's flow is found with the document's places.
#[test]
fn verify_finds_what_breaks_a_documents_flow() {
    let dir = tempfile::tempdir().unwrap();
    let doc = repo_path("tests/asyncapi/orders-3.0.json");
    let doc = doc.to_str().unwrap();
    let out = dir.path().join("orders.jsonl");
    let (code, _, err) = flowharness(&[
        "generate",
        "--flow",
        doc,
        "--flows",
        "5",
        "--seed",
        "9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Drop every OrderPlaced: each order's first event is now a Paid or Cancelled.
    let text = std::fs::read_to_string(&out).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("OrderPlaced")).collect();
    std::fs::write(&out, kept.join("\n") + "\n").unwrap();
    let (code, report, _) = flowharness(&["verify", "--file", out.to_str().unwrap(), "--flow", doc]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("unknown-flow"), "{report}");
}

#[test]
fn init_writes_an_overlay_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    copy(&repo_path("tests/asyncapi/subscriptions-2.6.yaml"), dir.path());
    copy(&repo_path("tests/asyncapi/billing-types.json"), dir.path());
    let doc = dir.path().join("subscriptions-2.6.yaml");
    let doc = doc.to_str().unwrap();
    let (code, _, err) = flowharness(&["generate", "--flow", doc, "--flows", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("asyncapi init"), "{err}");
    let (code, out, err) = flowharness(&["asyncapi", "init", doc]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("subscriptions-2.6.flowharness.toml"), "{out}");
    let overlay = std::fs::read_to_string(dir.path().join("subscriptions-2.6.flowharness.toml")).unwrap();
    assert!(overlay.contains("state = { field = \"eventType\" }"), "{overlay}");
    assert!(overlay.contains("state = { field = \"status\" }"), "{overlay}");
    assert!(overlay.contains("id = \"subscriptionId\""), "{overlay}");
    let (code, _, err) = flowharness(&["generate", "--flow", doc, "--flows", "5", "--seed", "1"]);
    assert_eq!(code, 0, "{err}");
    // A second init does not overwrite the user's overlay.
    let (code, _, err) = flowharness(&["asyncapi", "init", doc]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
}

fn copy(file: &Path, dir: &Path) {
    std::fs::copy(file, dir.join(file.file_name().unwrap())).unwrap();
}

/// What makes two specs the same flow: topics and schemas, states with
/// their selectors and topics, transitions, paths, ids, key, timing.
fn shape(spec: &FlowSpec) -> String {
    let channels: Vec<String> = spec
        .channels()
        .iter()
        .map(|c| format!("{} {} {:?} {}", c.topic, c.schema.json(), c.state_source, c.records))
        .collect();
    let states: Vec<String> = spec
        .states()
        .iter()
        .map(|s| format!("{} {} {:?} {}", s.name, s.selector, s.branch, s.channel))
        .collect();
    format!(
        "{}\n{channels:?}\n{states:?}\n{:?}\n{:?}\n{:?} {:?} {:?} {:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?} {:?} {}",
        spec.name(),
        spec.transitions(),
        spec.paths(),
        spec.start(),
        spec.end(),
        spec.restart_after(),
        spec.restart_path(),
        spec.flow_id(),
        spec.key(),
        spec.invariants(),
        spec.unique(),
        spec.timing(),
        spec.references(),
        spec.incomplete(),
        spec.cross_topic_skew_ms()
    )
}

#[test]
fn export_then_import_gives_the_same_spec_for_every_shipped_flow() {
    let dir = tempfile::tempdir().unwrap();
    for name in shipped::names() {
        let spec = shipped::shipped(name).unwrap().unwrap();
        for ext in ["yaml", "json"] {
            let path = dir.path().join(format!("{name}.{ext}"));
            let (code, _, err) = flowharness(&["asyncapi", "export", "--flow", name, "-o", path.to_str().unwrap()]);
            assert_eq!(code, 0, "{name}: {err}");
            let back = asyncapi::flow_spec(&path).unwrap_or_else(|e| panic!("{name}.{ext}: {e}"));
            assert_eq!(shape(&back), shape(&spec), "{name}.{ext}");
        }
    }
}

#[test]
fn an_export_is_valid_asyncapi_3_with_correlation_and_bindings() {
    let (code, yaml, err) = flowharness(&["asyncapi", "export", "--flow", "checkout-saga"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = asyncapi::document::parse_text(&yaml).unwrap();
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["channels"]["payments"]["bindings"]["kafka"]["topic"], "payments");
    let payment = &doc["components"]["messages"]["PaymentEvent"];
    assert_eq!(payment["correlationId"]["location"], "$message.payload#/order/id");
    assert_eq!(payment["bindings"]["kafka"]["key"]["type"], "string");
    assert!(
        doc["components"]["messages"]["CheckoutEvent"]["payload"]["schemaFormat"]
            .as_str()
            .unwrap()
            .starts_with("application/vnd.apache.avro")
    );
    assert_eq!(doc["operations"]["send-orders"]["action"], "send");
}

/// produce and load on the embedded pair, from documents: the Kafka
/// binding's 12 partitions are the topic's, every message checks clean.
#[test]
fn produce_and_load_take_a_document() {
    let orders = repo_path("tests/asyncapi/orders-3.0.json");
    let orders = orders.to_str().unwrap();
    let (code, out, err) = flowharness(&["produce", "--flow", orders, "--flows", "40", "--seed", "5"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("violations: 0") && out.contains("lost: 0"), "{out}");
    let observed = out.lines().find(|l| l.starts_with("observed")).unwrap();
    let highest = observed
        .split(['(', ',', ')'])
        .filter_map(|part| part.trim().split_once(':'))
        .filter_map(|(p, _)| p.trim().parse::<i32>().ok())
        .max()
        .unwrap();
    assert!(highest > 2 && highest < 12, "partitions from the binding: {observed}");
    for doc in [
        "tests/asyncapi/subscriptions-2.6.yaml",
        "tests/asyncapi/payments-request-reply-3.0.yaml",
    ] {
        let doc = repo_path(doc);
        let (code, out, err) = flowharness(&[
            "produce",
            "--flow",
            doc.to_str().unwrap(),
            "--flows",
            "20",
            "--seed",
            "5",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("violations: 0") && out.contains("lost: 0"), "{out}");
    }
    let (code, out, err) = flowharness(&[
        "load",
        "--flow",
        orders,
        "--rate",
        "300/s",
        "--duration",
        "2s",
        "--observe",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 lost, 0 violations"), "{out}");
}

/// The streetlights example as the specification writes it: a measurement
/// topic whose one message has no state field, and command topics. `init`
/// makes each measurement a flow of one state (`single = true`), leaves
/// out a channel whose messages carry no flow id, and the overlay drives
/// generate, verify and produce on the embedded pair.
#[test]
fn streetlights_documents_run_from_init_to_produce() {
    let lumens = regex::Regex::new(r#""lumens":\s*\d+"#).unwrap();
    for (name, left_out, states) in [
        ("streetlights-kafka-3.0.yaml", true, 1),
        ("streetlights-kafka-2.6.yaml", false, 5),
    ] {
        let dir = tempfile::tempdir().unwrap();
        copy(&repo_path(&format!("tests/asyncapi/{name}")), dir.path());
        let doc = dir.path().join(name);
        let doc = doc.to_str().unwrap();
        let (code, _, err) = flowharness(&["asyncapi", "init", doc]);
        assert_eq!(code, 0, "{name}: {err}");
        let overlay_file = asyncapi::overlay_path(Path::new(doc));
        let overlay = std::fs::read_to_string(&overlay_file).unwrap();
        assert!(overlay.contains("state = { single = true }"), "{name}: {overlay}");
        assert_eq!(overlay.contains("is left out"), left_out, "{name}: {overlay}");
        let spec = asyncapi::flow_spec(Path::new(doc)).unwrap_or_else(|e| panic!("{name}: {e}\n{overlay}"));
        assert_eq!(spec.states().len(), states, "{name}: {overlay}");
        assert!(
            spec.channels().iter().any(|c| c.topic.contains("lighting.measured")),
            "{name}"
        );

        let out = dir.path().join("lights.jsonl");
        let out = out.to_str().unwrap();
        let (code, _, err) = flowharness(&["generate", "--flow", doc, "--flows", "30", "--seed", "4", "--out", out]);
        assert_eq!(code, 0, "{name}: {err}");
        let (code, report, err) = flowharness(&["verify", "--file", out, "--flow", doc]);
        assert_eq!(code, 0, "{name}: {report}{err}");
        assert!(report.contains("violations: 0"), "{name}: {report}");
        // A measurement with a negative lumens is found, with its field.
        let text = std::fs::read_to_string(out).unwrap();
        let broken = lumens.replace_all(&text, r#""lumens": -5"#).into_owned();
        assert_ne!(broken, text, "{name}: no lumens in {text}");
        std::fs::write(out, broken).unwrap();
        let (code, report, _) = flowharness(&["verify", "--file", out, "--flow", doc]);
        assert_eq!(code, 1, "{name}: {report}");
        assert!(report.contains("lumens"), "{name}: {report}");

        // produce into a broker that outlives it, then verify reads every
        // topic of the flow back from it.
        let env = flowharness::kafka::Environment::embedded().unwrap();
        let registry = env.registry_url();
        let at = [
            "--bootstrap-servers",
            env.cluster.bootstrap.as_str(),
            "--registry-url",
            registry.as_str(),
        ];
        let mut args = vec!["produce", "--flow", doc, "--flows", "30", "--seed", "4"];
        args.extend(at);
        let (code, report, err) = flowharness(&args);
        assert_eq!(code, 0, "{name}: {report}{err}");
        assert!(
            report.contains("violations: 0") && report.contains("lost: 0"),
            "{name}: {report}"
        );
        let produced: u64 = report
            .lines()
            .find_map(|l| l.strip_prefix("produced "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {report}"));
        let mut args = vec!["verify", "--flow", doc, "--from-beginning", "--timeout", "20s"];
        args.extend(at);
        let (code, report, err) = flowharness(&args);
        assert_eq!(code, 0, "{name}: {report}{err}");
        assert!(
            report.contains(&format!("summary: {produced} messages")),
            "{name}: {produced} produced: {report}"
        );
        assert!(report.contains("violations: 0"), "{name}: {report}");
    }
}

/// A document whose flow id is a shared field with no correlationId for
/// it (the correlationId is a header), whose positions topic has no state
/// field, and whose id is free text on one topic and patterned on the
/// other: init guesses the id, the header becomes id_header, and
/// generated ids suit both schemas.
#[test]
fn a_fleet_document_runs_from_init_with_a_guessed_id_and_a_header() {
    let dir = tempfile::tempdir().unwrap();
    copy(&repo_path("tests/asyncapi/fleet-telemetry-3.0.yaml"), dir.path());
    let doc = dir.path().join("fleet-telemetry-3.0.yaml");
    let doc = doc.to_str().unwrap();
    let (code, _, err) = flowharness(&["asyncapi", "init", doc]);
    assert_eq!(code, 0, "{err}");
    let overlay_file = asyncapi::overlay_path(Path::new(doc));
    let overlay = std::fs::read_to_string(&overlay_file).unwrap();
    assert!(
        overlay.contains("id = \"truckId\"") && overlay.contains("A guess"),
        "{overlay}"
    );
    let spec = asyncapi::flow_spec(Path::new(doc)).unwrap();
    assert_eq!(spec.id_header(), Some("traceId"));
    let out = dir.path().join("fleet.jsonl");
    let out = out.to_str().unwrap();
    let (code, _, err) = flowharness(&["generate", "--flow", doc, "--flows", "20", "--seed", "2", "--out", out]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(out).unwrap();
    let truck = regex::Regex::new("^TR-[0-9]{4}$").unwrap();
    for line in text.lines().skip(1) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = row["value"]["truckId"].as_str().unwrap();
        assert!(truck.is_match(id), "{line}");
        assert_eq!(row["headers"]["traceId"], id, "{line}");
    }
    let (code, report, err) = flowharness(&["verify", "--file", out, "--flow", doc]);
    assert_eq!(code, 0, "{report}{err}");
    // On the embedded pair: produce, and load stamping the header per flow.
    let (code, report, err) = flowharness(&["produce", "--flow", doc, "--flows", "20", "--seed", "2"]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(
        report.contains("violations: 0") && report.contains("lost: 0"),
        "{report}"
    );
    let (code, report, err) = flowharness(&[
        "load",
        "--flow",
        doc,
        "--rate",
        "200/s",
        "--duration",
        "2s",
        "--observe",
        "--seed",
        "3",
        "--accounts",
        "5000",
    ]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("0 lost, 0 violations"), "{report}");
    // An overlay with the key left empty is refused, naming the key.
    std::fs::write(&overlay_file, overlay.replace("key = \"truckId\"", "key = \"\"")).unwrap();
    let err = asyncapi::flow_spec(Path::new(doc)).unwrap_err().to_string();
    assert!(err.contains("key: name the field"), "{err}");
}

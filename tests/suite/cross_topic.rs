//! A flow across topics (`checkout-saga`: Avro envelopes on `orders`, JSON
//! on `payments`): Kafka orders nothing across topics, so the checker puts
//! each flow's events in the order of their times, waits for an event
//! another topic has not delivered yet, and allows the spec's clock skew.
//! Checked offline with the worst reading orders, through produce on the
//! embedded broker, and through `verify --topic` reading both topics.

use crate::common;

use std::sync::Arc;

use common::{flow_options, flowharness};
use flowharness::flow::checker::{CheckOptions, Checker, Observed, Report, Rule};
use flowharness::flow::fixture_io::{Keyed, as_observed};
use flowharness::flow::generator::FlowGenerator;
use flowharness::flow::{FlowSpec, shipped};
use serde_json::json;

fn saga() -> FlowSpec {
    shipped::resolve("checkout-saga").unwrap()
}

fn generated(spec: &FlowSpec, flows: usize, seed: u64) -> Vec<Keyed> {
    FlowGenerator::new(spec, flow_options(spec, flows, ""))
        .unwrap()
        .generate(seed)
        .unwrap()
}

fn check(spec: &FlowSpec, observed: &[Observed]) -> Report {
    let mut checker = Checker::new(spec, CheckOptions::default());
    for o in observed {
        checker.observe(o);
    }
    checker.finish()
}

fn on(messages: &[Keyed], topic: &str) -> Vec<Keyed> {
    messages
        .iter()
        .filter(|m| m.topic.as_deref() == Some(topic))
        .cloned()
        .collect()
}

#[test]
fn the_spec_has_two_topics_each_with_its_own_schema_and_paths() {
    let spec = saga();
    let topics: Vec<&str> = spec.channels().iter().map(|c| c.topic.as_str()).collect();
    assert_eq!(topics, ["orders", "payments"]);
    assert_eq!(spec.channels()[0].schema.kind(), "AVRO");
    assert_eq!(spec.channels()[1].schema.kind(), "JSON");
    let captured = spec.state_index("Captured").unwrap();
    assert_eq!(spec.key().at(captured).map(|p| p.text()), Some("order.id"));
    let started = spec.state_index("Started").unwrap();
    assert_eq!(spec.key().at(started).map(|p| p.text()), Some("orderId"));
}

#[test]
fn any_reading_order_across_topics_is_clean() {
    let spec = saga();
    let messages = generated(&spec, 30, 4);
    let (orders, payments) = (on(&messages, "orders"), on(&messages, "payments"));
    assert_eq!(orders.len() + payments.len(), messages.len());
    // All of orders first (every Completed before its Captured), then the
    // other way round, then as produced.
    let orders_first: Vec<Keyed> = orders.iter().chain(&payments).cloned().collect();
    let payments_first: Vec<Keyed> = payments.iter().chain(&orders).cloned().collect();
    for (name, order) in [
        ("orders first", &orders_first),
        ("payments first", &payments_first),
        ("as produced", &messages),
    ] {
        let report = check(&spec, &as_observed(order, 3));
        assert!(report.findings.is_empty(), "{name}: {:#?}", report.findings);
        assert_eq!(report.complete_by_path.values().sum::<u64>(), 30, "{name}");
    }
}

#[test]
fn a_missing_payment_and_a_clock_beyond_the_skew_are_caught_naming_the_topic() {
    let spec = saga();
    let messages = generated(&spec, 1, 1);
    let paid = messages
        .iter()
        .any(|m| m.value.to_string().contains("CheckoutCompleted"));
    let messages = if paid { messages } else { generated(&spec, 1, 2) };
    // No Captured at all: Started → Completed.
    let without: Vec<Keyed> = messages
        .iter()
        .filter(|m| m.topic.as_deref() != Some("payments"))
        .cloned()
        .collect();
    let report = check(&spec, &as_observed(&without, 1));
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::TransitionNotAllowed)
        .unwrap();
    assert!(
        finding
            .to_string()
            .starts_with("error[transition-not-allowed] topic orders partition 0 offset 1 "),
        "{finding}"
    );
    // Completed 1 s before Captured by the clocks: within the 2 s skew.
    let mut skewed = messages.clone();
    let captured_at = skewed[1].value["at"].as_str().unwrap().to_string();
    let captured_ms = flowharness::flow::timing::parse_iso(&captured_at).unwrap();
    skewed[2].value["occurredAt"] = json!(captured_ms - 1000);
    let report = check(&spec, &as_observed(&skewed, 1));
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    // 5 s before: beyond it, and the payment came after the completion.
    skewed[2].value["occurredAt"] = json!(captured_ms - 5000);
    let report = check(&spec, &as_observed(&skewed, 1));
    assert!(
        report.has(Rule::Timing) || report.has(Rule::TransitionNotAllowed),
        "{:#?}",
        report.findings
    );
}

#[test]
fn produce_and_verify_read_both_topics_on_the_embedded_broker() {
    let (code, out, err) = flowharness(&["produce", "--flow", "checkout-saga", "--flows", "12", "--seed", "3"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.starts_with("produced 36 to orders, payments (acknowledged 36, failed 0)"),
        "{out}"
    );
    assert!(
        out.contains("complete: declined 6, paid 6") || out.contains("violations: 0 ()"),
        "{out}"
    );
    assert!(out.contains("violations: 0 ()"), "{out}");

    use flowharness::kafka::Environment;
    use flowharness::kafka::producer::{Outgoing, Producer, ProducerOptions};
    let env = Environment::embedded().unwrap();
    let spec = Arc::new(saga());
    let messages = generated(&spec, 4, 9);
    let mut ids = Vec::new();
    for c in spec.channels() {
        let topic = format!("cv-{}", c.topic);
        env.cluster.create_topic(&topic, 2).unwrap();
        ids.push(env.registry.register(&format!("{topic}-value"), &c.schema).unwrap());
    }
    let mut producer = Producer::new(&env.cluster, &ProducerOptions::default()).unwrap();
    // Every payment written before any order: the worst a consumer can see.
    let mut order: Vec<&Keyed> = messages
        .iter()
        .filter(|m| m.topic.as_deref() == Some("payments"))
        .collect();
    order.extend(messages.iter().filter(|m| m.topic.as_deref() == Some("orders")));
    for m in order {
        let c = spec.channel_of(m.topic.as_deref().unwrap()).unwrap();
        let topic = format!("cv-{}", spec.channels()[c].topic);
        let payload = flowharness::verify::encode(&spec.channels()[c].schema, ids[c], &m.value).unwrap();
        producer.send(&Outgoing {
            topic: &topic,
            partition: None,
            key: Some(m.key.as_bytes()),
            payload: Some(&payload),
            headers: &[],
        });
    }
    assert_eq!(producer.finish().failed, 0);
    let registry = env.registry_url();
    let (code, out, err) = flowharness(&[
        "verify",
        "--flow",
        "checkout-saga",
        "--topic",
        "orders=cv-orders",
        "--topic",
        "payments=cv-payments",
        "--from-beginning",
        "--timeout",
        "20s",
        "--bootstrap-servers",
        &env.cluster.bootstrap,
        "--registry-url",
        &registry,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("read 12 from cv-orders, cv-payments ("), "{out}");
    assert!(out.contains("violations: 0 ()"), "{out}");
    let (code, _, err) = flowharness(&[
        "verify",
        "--flow",
        "checkout-saga",
        "--topic",
        "shipments",
        "--bootstrap-servers",
        &env.cluster.bootstrap,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("flow checkout-saga has no topic \"shipments\" (topics: orders, payments"),
        "{err}"
    );
}

#[test]
fn bad_cross_topic_specs_are_refused_naming_the_key() {
    let text = std::fs::read_to_string(common::repo_path("flows/checkout-saga.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    for s in ["checkout-order.avsc", "payment-event.schema.json"] {
        std::fs::copy(
            common::repo_path(&format!("schemas/{s}")),
            dir.path().join("schemas").join(s),
        )
        .unwrap();
    }
    let error = |from: &str, to: &str| {
        let path = dir.path().join("flows/bad.toml");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        FlowSpec::load(&path)
            .unwrap_err()
            .to_string()
            .replace(&format!("{}/", dir.path().display()), "")
    };
    let e = error("key = \"order.id\"\n", "");
    assert!(e.contains("flows/bad.toml: key: field \"orderId\" is missing from state Captured: the schema has no property \"orderId\""), "{e}");
    let e = error(
        "Captured = { topic = \"payments\", is = \"PAYMENT_CAPTURED\" }",
        "Captured = \"PAYMENT_CAPTURED\"",
    );
    assert!(
        e.contains("flows/bad.toml: states.Captured: with several topics, name the state's topic"),
        "{e}"
    );
    let e = error(
        "Captured = { topic = \"payments\",",
        "Captured = { topic = \"payment\",",
    );
    assert!(
        e.contains("states.Captured.topic: unknown topic \"payment\" (topics: orders, payments)"),
        "{e}"
    );
    let e = error("Started = { field = \"occurredAt\" }\n", "");
    assert!(
        e.contains("states.Started: a flow across topics orders its events by their times"),
        "{e}"
    );
    let e = error("state = { field = \"type\" }", "state = { field = \"kind\" }");
    assert!(
        e.contains("topics.payments: state.field: \"kind\" names no field"),
        "{e}"
    );
}

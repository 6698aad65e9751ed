//! The step library. Every step here is listed, with an example, in
//! [`super::CATALOGUE`]; a test keeps the two in sync.

use std::sync::Arc;
use std::time::Duration;

use cucumber::{given, then, when};

use super::world::{FlowWorld, environment, step_failed};
use crate::flow::checker::{CheckOptions, Rule};
use crate::flow::fixture_io::Keyed;
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::flow::shipped;
use crate::generate::hints::Hints;
use crate::kafka::producer::ProducerOptions;
use crate::registry::SubjectStrategy;
use crate::verify::{Message, ProduceRun, produce_and_check};

fn generated(w: &FlowWorld, flows: usize, mix: &str) -> Vec<Keyed> {
    let spec = w.flow();
    let mix = Mix::parse(spec, mix).unwrap_or_else(|e| step_failed(&e.to_string()));
    let options = FlowOptions {
        flows,
        mix,
        hints: Arc::new(Hints::today()),
        jitter: 0.5,
        time_scale: 1.0,
    };
    let generator = FlowGenerator::new(spec, options).unwrap_or_else(|e| step_failed(&e.to_string()));
    println!("seed: {} (flow {})", w.seed, spec.name);
    generator
        .generate(w.seed)
        .unwrap_or_else(|e| step_failed(&e.to_string()))
}

fn queue(w: &mut FlowWorld, messages: Vec<Keyed>) {
    w.pending.extend(messages.into_iter().map(|k| Message {
        key: Some(k.key),
        partition: None,
        value: k.value,
        flow_id: None,
    }));
}

/// Produces what is queued, observes it, and checks it against the flow.
fn produce(w: &mut FlowWorld) {
    let spec = w.flow().clone();
    let run = ProduceRun {
        topic: w.topic.clone(),
        partitions: 3,
        schema: spec.schema.clone(),
        messages: std::mem::take(&mut w.pending),
        seed: Some(w.seed),
        strategy: SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(30),
    };
    let report = produce_and_check(environment(), &run, Some(&spec), CheckOptions::default())
        .unwrap_or_else(|e| step_failed(&e.to_string()));
    w.run = Some(report);
}

fn index_of_state(w: &FlowWorld, messages: &[Keyed], state: &str) -> usize {
    let spec = w.flow();
    if spec.state_index(state).is_none() {
        let known: Vec<&str> = spec.states.iter().map(|s| s.name.as_str()).collect();
        step_failed(&format!(
            "flow {} has no state {state:?} (states: {})",
            spec.name,
            known.join(", ")
        ));
    }
    messages
        .iter()
        .position(|m| spec.classify(&m.value).is_ok_and(|(s, _)| spec.states[s].name == state))
        .unwrap_or_else(|| step_failed(&format!("the generated flow has no {state} event")))
}

#[given(expr = "the {string} flow")]
fn the_flow(w: &mut FlowWorld, name: String) {
    let spec = shipped::resolve(&name).unwrap_or_else(|e| step_failed(&e.to_string()));
    w.flow = Some(Arc::new(spec));
}

#[given(expr = "the seed {int}")]
fn the_seed(w: &mut FlowWorld, seed: u64) {
    w.seed = seed;
}

#[when(expr = "{int} {word} flows are produced")]
fn flows_of_a_path_are_produced(w: &mut FlowWorld, n: i64, path: String) {
    let n = usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| step_failed(&format!("{n} flows: give a positive number")));
    let messages = generated(w, n, &format!("{path}=1"));
    queue(w, messages);
    produce(w);
}

#[when(expr = "{int} flows are produced with the mix {string}")]
fn flows_of_a_mix_are_produced(w: &mut FlowWorld, n: i64, mix: String) {
    let n = usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| step_failed(&format!("{n} flows: give a positive number")));
    let messages = generated(w, n, &mix);
    queue(w, messages);
    produce(w);
}

#[when(expr = "the fixture {string} is produced")]
fn the_fixture_is_produced(w: &mut FlowWorld, path: String) {
    let fixture =
        crate::fixture::Fixture::load(std::path::Path::new(&path)).unwrap_or_else(|e| step_failed(&e.to_string()));
    for entry in &fixture.entries {
        let key = entry.key.as_str().map(str::to_string);
        for m in &entry.messages {
            w.pending.push(Message {
                key: key.clone(),
                partition: None,
                value: m.clone(),
                flow_id: None,
            });
        }
    }
    produce(w);
}

#[when(expr = "a {word} flow is produced with its {word} event dropped")]
fn a_flow_with_an_event_dropped(w: &mut FlowWorld, path: String, state: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let i = index_of_state(w, &messages, &state);
    messages.remove(i);
    queue(w, messages);
    produce(w);
}

#[when(expr = "a {word} flow is produced with its {word} event duplicated")]
fn a_flow_with_an_event_duplicated(w: &mut FlowWorld, path: String, state: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let i = index_of_state(w, &messages, &state);
    let copy = messages[i].clone();
    messages.insert(i + 1, copy);
    queue(w, messages);
    produce(w);
}

#[when(expr = "a {word} flow is produced with its {word} and {word} events swapped")]
fn a_flow_with_events_swapped(w: &mut FlowWorld, path: String, first: String, second: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let (a, b) = (
        index_of_state(w, &messages, &first),
        index_of_state(w, &messages, &second),
    );
    messages.swap(a, b);
    queue(w, messages);
    produce(w);
}

#[when(expr = "a {word} flow is produced with {word} of its {word} event set to {string}")]
fn a_flow_with_a_field_changed(w: &mut FlowWorld, path: String, field: String, state: String, value: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let i = index_of_state(w, &messages, &state);
    let spec = w.flow().clone();
    let new = serde_json::Value::String(value);
    match &spec.state_source {
        crate::flow::spec::StateSource::Union(union) => {
            let body = messages[i]
                .value
                .get_mut(union)
                .and_then(|u| u.as_object_mut())
                .and_then(|u| u.values_mut().next());
            let body = body.unwrap_or_else(|| step_failed("the event has no union body"));
            crate::flow::fields::set(body, &field, new);
        }
        crate::flow::spec::StateSource::Field(_) => crate::flow::fields::set(&mut messages[i].value, &field, new),
    }
    queue(w, messages);
    produce(w);
}

#[then(expr = "{int} complete {word} flows are observed")]
fn complete_flows_are_observed(w: &mut FlowWorld, n: u64, path: String) {
    let seen = w.run().check.complete_by_path.get(&path).copied().unwrap_or(0);
    if seen != n {
        step_failed(&format!(
            "expected {n} complete {path} flows, observed {seen} ({:?})",
            w.run().check.complete_by_path
        ));
    }
}

#[then("nothing is lost or duplicated")]
fn nothing_lost_or_duplicated(w: &mut FlowWorld) {
    let r = w.run();
    if r.lost > 0 || r.duplicated > 0 || r.delivery.failed > 0 {
        step_failed(&format!(
            "lost {}, duplicated {}, failed {}: {:?}",
            r.lost, r.duplicated, r.delivery.failed, r.delivery.failures
        ));
    }
}

#[then("no violations are reported")]
fn no_violations(w: &mut FlowWorld) {
    let r = w.run();
    if r.check.errors > 0 {
        let lines: Vec<String> = r.check.findings.iter().map(ToString::to_string).collect();
        step_failed(&format!("{} violations:\n{}", r.check.errors, lines.join("\n")));
    }
}

#[then(expr = "a {word} violation is reported")]
fn a_violation_is_reported(w: &mut FlowWorld, rule: String) {
    let rule = Rule::parse(&rule).unwrap_or_else(|| {
        let known: Vec<&str> = Rule::ALL.iter().map(Rule::name).collect();
        step_failed(&format!("unknown rule {rule:?} (rules: {})", known.join(", ")))
    });
    if !w.run().check.has(rule) {
        let lines: Vec<String> = w.run().check.findings.iter().map(ToString::to_string).collect();
        step_failed(&format!("no {rule} violation; found:\n{}", lines.join("\n")));
    }
}

#[then("every message decodes with the registered schema")]
fn every_message_decodes(w: &mut FlowWorld) {
    if w.run().check.has(Rule::SchemaInvalid) {
        step_failed("some messages did not decode or broke the schema");
    }
}

#[then("the events of each key are observed in flow order")]
fn events_in_flow_order(w: &mut FlowWorld) {
    let c = &w.run().check;
    for rule in [
        Rule::TransitionNotAllowed,
        Rule::KeyOnManyPartitions,
        Rule::TimeBackwards,
        Rule::UnknownFlow,
    ] {
        if c.has(rule) {
            step_failed(&format!("order broken: {rule}"));
        }
    }
}

/// One realistic catalog event of `kind` (SUBSCRIPTION or
/// SUBSCRIPTION_GROUP) with the given code, drawn from the JSON Schema.
fn catalog_event(w: &FlowWorld, kind: &str, code: &str) -> serde_json::Value {
    let spec = w.flow();
    let hints = Arc::new(Hints::today());
    let strategy =
        crate::generate::sample::strategy(&spec.schema, &hints, None).unwrap_or_else(|e| step_failed(&e.to_string()));
    let values = crate::generate::sample::values(&strategy, 64, w.seed).unwrap_or_else(|e| step_failed(&e.to_string()));
    let mut value = values
        .into_iter()
        .find(|v| v["data"]["type"] == kind)
        .unwrap_or_else(|| step_failed(&format!("no {kind} event could be drawn from the schema")));
    value["data"]["code"] = serde_json::Value::String(code.to_string());
    value
}

fn queue_catalog(w: &mut FlowWorld, value: serde_json::Value) {
    let key = value["data"]["code"].as_str().unwrap_or_default().to_string();
    w.pending.push(Message {
        key: Some(key),
        partition: None,
        value,
        flow_id: None,
    });
}

#[when(expr = "the subscription {string} is published with its options")]
fn a_subscription_is_published(w: &mut FlowWorld, code: String) {
    let value = catalog_event(w, "SUBSCRIPTION", &code);
    queue_catalog(w, value);
}

#[when(expr = "the group {string} is published listing {string}")]
fn a_group_is_published(w: &mut FlowWorld, code: String, members: String) {
    let mut value = catalog_event(w, "SUBSCRIPTION_GROUP", &code);
    let list: Vec<serde_json::Value> = members
        .split(',')
        .map(|m| serde_json::Value::String(m.trim().to_string()))
        .collect();
    value["data"]["subscriptions"] = serde_json::Value::Array(list);
    queue_catalog(w, value);
}

#[when(expr = "the subscription {string} is updated to {word}")]
fn a_subscription_is_updated(w: &mut FlowWorld, code: String, status: String) {
    let mut value = catalog_event(w, "SUBSCRIPTION", &code);
    value["data"]["status"] = serde_json::Value::String(status);
    queue_catalog(w, value);
}

#[when("the published events are produced")]
fn the_published_events_are_produced(w: &mut FlowWorld) {
    produce(w);
}

//! The subscription catalog: subscriptions with their options, groups
//! that list them, updates, and events that break the schema's
//! if/then/else rules. Events queue until "the published events are
//! produced".

use std::sync::Arc;

use cucumber::when;
use serde_json::Value;

use super::super::world::{FlowWorld, off_thread, step_failed};
use super::produce;
use crate::generate::hints::Hints;
use crate::verify::Message;

/// One realistic catalog event of `kind` (SUBSCRIPTION or
/// SUBSCRIPTION_GROUP) with the given code, drawn from the JSON Schema.
fn catalog_event(w: &mut FlowWorld, kind: &str, code: &str) -> Value {
    let schema = w.schema().clone();
    let hints = Arc::new(Hints::today());
    let strategy =
        crate::generate::sample::strategy(&schema, &hints, None).unwrap_or_else(|e| step_failed(&e.to_string()));
    let values = crate::generate::sample::values(&strategy, 64, w.seed).unwrap_or_else(|e| step_failed(&e.to_string()));
    w.seed = w.seed.wrapping_add(1);
    w.generated_with = Some(w.seed);
    let mut value = values
        .into_iter()
        .find(|v| v["data"]["type"] == kind)
        .unwrap_or_else(|| step_failed(&format!("no {kind} event could be drawn from the schema")));
    value["data"]["code"] = Value::String(code.to_string());
    value
}

fn queue_catalog(w: &mut FlowWorld, value: Value) {
    let key = value["data"]["code"].as_str().unwrap_or_default().to_string();
    w.pending.push(Message::keyed(key, value));
}

#[when(expr = "the subscription {string} is published with its options")]
fn a_subscription_is_published(w: &mut FlowWorld, code: String) {
    let value = catalog_event(w, "SUBSCRIPTION", &code);
    queue_catalog(w, value);
}

#[when(expr = "the {word} {string} is published without its {word}")]
fn an_event_without_a_field(w: &mut FlowWorld, kind: String, code: String, field: String) {
    let kind = match kind.as_str() {
        "subscription" => "SUBSCRIPTION",
        "group" => "SUBSCRIPTION_GROUP",
        other => step_failed(&format!("{other:?}: expected subscription or group")),
    };
    let mut value = catalog_event(w, kind, &code);
    let removed = value["data"].as_object_mut().and_then(|d| d.remove(&field));
    if removed.is_none() {
        step_failed(&format!("a {kind} event has no data.{field} to leave out"));
    }
    // Sent as it is: our producer would refuse to encode it.
    let raw = serde_json::to_vec(&value).unwrap_or_default();
    queue_catalog(w, value);
    if let Some(last) = w.pending.last_mut() {
        last.raw = Some(raw);
    }
}

#[when(expr = "the group {string} is published listing {string}")]
fn a_group_is_published(w: &mut FlowWorld, code: String, members: String) {
    let mut value = catalog_event(w, "SUBSCRIPTION_GROUP", &code);
    let list: Vec<Value> = super::list(&members).into_iter().map(Value::String).collect();
    value["data"]["subscriptions"] = Value::Array(list);
    queue_catalog(w, value);
}

#[when(expr = "the subscription {string} is updated to {word}")]
fn a_subscription_is_updated(w: &mut FlowWorld, code: String, status: String) {
    let mut value = catalog_event(w, "SUBSCRIPTION", &code);
    value["data"]["status"] = Value::String(status);
    queue_catalog(w, value);
}

#[when("the published events are produced")]
async fn the_published_events_are_produced(w: &mut FlowWorld) {
    off_thread(w, produce).await;
}

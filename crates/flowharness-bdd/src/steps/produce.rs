//! Producing generated flows, flows for named accounts, flows with fields
//! set from a data table, single events, and fixture files.

use crate::num::Cast as _;
use std::sync::Arc;

use cucumber::gherkin::Step;
use cucumber::when;
use serde_json::Value;

use super::super::world::{FlowWorld, off_thread, step_failed};
use super::{count, generated, list, produce, queue, rename_keys, set_field, state_of, table_rows, typed};
use crate::flow::fields;
use crate::generate::hints::Hints;
use crate::verify::Message;

#[when(expr = "{int} {word} flows are produced")]
async fn flows_of_a_path_are_produced(w: &mut FlowWorld, n: i64, path: String) {
    let messages = generated(w, count(n), &format!("{path}=1"));
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "{int} flows are produced with the mix {string}")]
async fn flows_of_a_mix_are_produced(w: &mut FlowWorld, n: i64, mix: String) {
    let messages = generated(w, count(n), &mix);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "a {word} flow is produced for the account {string}")]
async fn a_flow_for_an_account(w: &mut FlowWorld, path: String, account: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let spec = w.flow().clone();
    rename_keys(&spec, &mut messages, &[account]);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "{word} flows are produced for the accounts {string}")]
async fn flows_for_accounts(w: &mut FlowWorld, path: String, accounts: String) {
    let accounts = list(&accounts);
    let mut messages = generated(w, count(accounts.len().sat_i64()), &format!("{path}=1"));
    let spec = w.flow().clone();
    rename_keys(&spec, &mut messages, &accounts);
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when(expr = "a {word} flow is produced with these fields:")]
async fn a_flow_with_fields(w: &mut FlowWorld, step: &Step, path: String) {
    let mut messages = generated(w, 1, &format!("{path}=1"));
    let spec = w.flow().clone();
    for row in table_rows(step, &["event", "field", "value"]) {
        let [event, field, value] = [&row[0], &row[1], &row[2]];
        if event != "*" {
            super::known_state(&spec, event);
        }
        // `*`: every event whose record has the field.
        let mut hit = false;
        for m in &mut messages {
            let chosen = match event.as_str() {
                "*" => !super::field_values(Some(&spec), &m.value, field).is_empty(),
                _ => state_of(&spec, &m.value) == Some(event.as_str()),
            };
            if chosen {
                set_field(&spec, &mut m.value, field, value);
                hit = true;
            }
        }
        if !hit {
            step_failed(&format!(
                "the generated {path} flow has no {event} event with a field {field}"
            ));
        }
        if *field == spec.key().text || spec.key().at(0).is_some_and(|p| p.text() == field) {
            for m in &mut messages {
                m.key.clone_from(value);
            }
        }
    }
    queue(w, messages);
    off_thread(w, produce).await;
}

#[when("an event is produced with these fields:")]
async fn an_event_with_fields(w: &mut FlowWorld, step: &Step) {
    let schema = w.schema().clone();
    let hints = Arc::new(Hints::today());
    let strategy =
        crate::generate::sample::strategy(&schema, &hints, None).unwrap_or_else(|e| step_failed(&e.to_string()));
    w.generated_with = Some(w.seed);
    crate::console::say(format!("seed: {} (scenario \"{}\")", w.seed, w.scenario));
    let mut value: Value = crate::generate::sample::values(&strategy, 1, w.seed)
        .unwrap_or_else(|e| step_failed(&e.to_string()))
        .into_iter()
        .next()
        .unwrap_or_else(|| step_failed("the schema gave no value"));
    w.seed = w.seed.wrapping_add(1_000_003);
    let mut key = None;
    for row in table_rows(step, &["field", "value"]) {
        let (field, text) = (&row[0], &row[1]);
        if field == "key" {
            key = Some(text.clone());
            continue;
        }
        let new = typed(fields::get_all(&value, field).into_iter().next(), text);
        fields::set(&mut value, field, new);
    }
    if let Some(v) = schema.validate(&value).into_iter().next() {
        step_failed(&format!("the event breaks the schema: {v}"));
    }
    // A flow with a correlation header gets it, as generated flows do.
    let headers = w
        .flow_spec()
        .and_then(|spec| spec.classify(&value).ok().map(|s| spec.id_headers(&value, s)))
        .unwrap_or_default();
    w.pending.push(Message {
        key,
        value,
        headers,
        ..Message::default()
    });
    off_thread(w, produce).await;
}

#[when(expr = "the fixture {string} is produced")]
async fn the_fixture_is_produced(w: &mut FlowWorld, path: String) {
    let fixture = crate::fixture::Fixture::load(&w.resolve_path(&path)).unwrap_or_else(|e| step_failed(&e.to_string()));
    for entry in &fixture.entries {
        let key = entry.key.as_str().map(str::to_string);
        for m in &entry.messages {
            w.pending.push(Message {
                key: key.clone(),
                partition: entry.partition,
                value: m.clone(),
                headers: entry.headers.clone(),
                ..Message::default()
            });
        }
    }
    if w.contract.is_none() {
        let schema = fixture
            .entries
            .first()
            .map(|e| e.schema.clone())
            .unwrap_or_else(|| step_failed(&format!("{path}: the fixture has no entries")));
        w.contract = Some(super::Contract::Schema(schema));
    }
    off_thread(w, produce).await;
}

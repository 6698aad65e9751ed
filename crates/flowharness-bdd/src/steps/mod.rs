//! The step library. Every step here is listed, with an example, in
//! [`super::CATALOGUE`]; tests keep the two in sync. The rooms follow what
//! a step does: choose the contract, produce, break, publish catalog
//! events, observe, and drive a service under test.

mod catalog;
mod contract;
mod fake;
mod faults;
mod hunt;
mod observe;
mod output;
mod produce;
mod service;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::world::{Contract, FlowWorld, environment, step_failed};
use crate::flow::checker::CheckOptions;
use crate::flow::fixture_io::Keyed;
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::flow::{FlowSpec, fields};
use crate::generate::hints::Hints;
use crate::kafka::producer::ProducerOptions;
use crate::registry::SubjectStrategy;
use crate::verify::{ProduceRun, produce_and_check};

/// A count of flows from a step: positive.
fn count(n: i64) -> usize {
    usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| step_failed(&format!("{n} flows: give a positive number")))
}

/// `flows` generated flows of the scenario's flow, in the proportions of
/// `mix` (`happy=1`, `happy=80,cancel=20`).
fn generated(w: &mut FlowWorld, flows: usize, mix: &str) -> Vec<Keyed> {
    let spec = w.flow().clone();
    let mix = Mix::parse(&spec, mix).unwrap_or_else(|e| step_failed(&e.to_string()));
    let options = FlowOptions {
        flows,
        mix,
        hints: Arc::new(Hints::today()),
        jitter: 0.5,
        time_scale: 1.0,
    };
    let generator = FlowGenerator::new(&spec, options).unwrap_or_else(|e| step_failed(&e.to_string()));
    w.generated_with = Some(w.seed);
    crate::console::say(format!(
        "seed: {} (scenario \"{}\", flow {})",
        w.seed,
        w.scenario,
        spec.name()
    ));
    let out = generator
        .generate(w.seed)
        .unwrap_or_else(|e| step_failed(&e.to_string()));
    // A second generating step in the scenario draws other flows.
    w.seed = w.seed.wrapping_add(1_000_003);
    out
}

/// Queues generated messages, with their flow ids as headers.
fn queue(w: &mut FlowWorld, messages: Vec<Keyed>) {
    let spec = w.flow().clone();
    w.pending
        .extend(messages.into_iter().map(|k| crate::verify::flow_message(&spec, k)));
}

/// Produces what is queued, observes it, and checks it against the flow
/// (or the schema alone). Blocks: call it from [`super::world::off_thread`].
fn produce(w: &mut FlowWorld) {
    let contract = w
        .contract
        .clone()
        .unwrap_or_else(|| step_failed("no contract chosen: start with Given the \"NAME\" flow"));
    let schema = w.schema().clone();
    let (others, topics) = scenario_topics(w);
    let run = ProduceRun {
        topic: w.topic.clone(),
        partitions: match &contract {
            Contract::Flow(f) => f.partitions().unwrap_or(3),
            _ => 3,
        },
        schema,
        others,
        messages: std::mem::take(&mut w.pending),
        seed: Some(w.seed),
        strategy: SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(30),
        keep_observed: true,
    };
    let flow = match &contract {
        Contract::Flow(f) => Some(f.as_ref()),
        Contract::Schema(_) => None,
    };
    let check = CheckOptions {
        topics,
        ..CheckOptions::default()
    };
    let report = produce_and_check(environment(), &run, flow, check).unwrap_or_else(|e| w.fail(&e.to_string()));
    w.run = Some(report);
}

/// A scenario's topics for a flow across topics: the scenario's topic for
/// the flow's first, `{topic}-{name}` for the others, with their schemas;
/// and every one's name in the flow's order, for the checker.
fn scenario_topics(w: &FlowWorld) -> (Vec<(String, crate::schema::Schema)>, Vec<String>) {
    match &w.contract {
        Some(Contract::Flow(f)) if f.is_multi_topic() => {
            let others: Vec<(String, crate::schema::Schema)> = f.channels()[1..]
                .iter()
                .map(|c| (format!("{}-{}", w.topic, c.topic), c.schema.clone()))
                .collect();
            let names = std::iter::once(w.topic.clone())
                .chain(others.iter().map(|(t, _)| t.clone()))
                .collect();
            (others, names)
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// Fails unless the flow has a state of this name.
fn known_state(spec: &FlowSpec, state: &str) -> usize {
    spec.state_index(state).unwrap_or_else(|| {
        let known: Vec<&str> = spec.states().iter().map(|s| s.name.as_str()).collect();
        step_failed(&format!(
            "flow {} has no state {state:?} (states: {})",
            spec.name(),
            known.join(", ")
        ))
    })
}

/// The state of a message, by name.
fn state_of<'s>(spec: &'s FlowSpec, value: &Value) -> Option<&'s str> {
    spec.classify(value).ok().map(|s| spec.states()[s].name.as_str())
}

/// Where the first event of `state` is among generated messages.
fn index_of_state(spec: &FlowSpec, messages: &[Keyed], state: &str) -> usize {
    known_state(spec, state);
    messages
        .iter()
        .position(|m| state_of(spec, &m.value) == Some(state))
        .unwrap_or_else(|| step_failed(&format!("the generated flow has no {state} event")))
}

/// The values of a field in an event: a path of the flow (from the message
/// root, or the short form inside the state's union branch), or, for a
/// schema alone, a path from the root.
fn field_values<'v>(spec: Option<&FlowSpec>, value: &'v Value, field: &str) -> Vec<&'v Value> {
    let Some(spec) = spec else {
        return fields::get_all(value, field);
    };
    match spec.classify(value).ok().map(|s| spec.resolve(s, field)) {
        Some(Ok(path)) => path.get_all(value),
        _ => Vec::new(),
    }
}

/// A field's value as text, when the event has it.
fn field_text(spec: Option<&FlowSpec>, value: &Value, field: &str) -> Option<String> {
    field_values(spec, value, field).first().map(|v| fields::text(v))
}

/// A value for a field from a step's text: kept as text where the field
/// holds text, read as JSON (a number, `true`, `null`, an object) elsewhere.
fn typed(current: Option<&Value>, text: &str) -> Value {
    let current = current.map(fields::unwrap_union);
    if text == "null" {
        return Value::Null;
    }
    match current {
        Some(Value::String(_)) => Value::String(text.to_string()),
        _ => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// Sets a field of an event from a step's text.
fn set_field(spec: &FlowSpec, value: &mut Value, field: &str, text: &str) {
    let state = spec
        .classify(value)
        .unwrap_or_else(|e| step_failed(&format!("the event has no state: {e}")));
    let path = spec.resolve(state, field).unwrap_or_else(|e| {
        step_failed(&format!(
            "the {} event has no field {field:?}: {e}",
            spec.states()[state].name
        ))
    });
    let new = typed(path.get(value), text);
    path.set(value, new);
}

/// Gives every message of the account the generator drew instead the
/// account named, in its key and in its key field.
fn rename_keys(spec: &FlowSpec, messages: &mut [Keyed], accounts: &[String]) {
    let mut drawn: Vec<String> = Vec::new();
    for m in messages.iter() {
        if !drawn.contains(&m.key) {
            drawn.push(m.key.clone());
        }
    }
    if drawn.len() != accounts.len() {
        step_failed(&format!(
            "{} accounts given for {} generated streams",
            accounts.len(),
            drawn.len()
        ));
    }
    for m in messages.iter_mut() {
        let Some(i) = drawn.iter().position(|k| *k == m.key) else {
            continue;
        };
        m.key = accounts[i].clone();
        if let Ok(state) = spec.classify(&m.value) {
            spec.key().set(&mut m.value, state, Value::String(accounts[i].clone()));
        }
    }
}

/// A comma-separated list from a step: `"1000001, 1000002"`.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The rows of a step's data table, with the header row as keys.
fn table_rows(step: &cucumber::gherkin::Step, columns: &[&str]) -> Vec<Vec<String>> {
    let Some(table) = &step.table else {
        step_failed(&format!(
            "this step needs a data table with the columns | {} |",
            columns.join(" | ")
        ))
    };
    let mut rows = table.rows.iter();
    let header = rows.next().cloned().unwrap_or_default();
    let positions: Vec<usize> = columns
        .iter()
        .map(|c| {
            header.iter().position(|h| h.trim() == *c).unwrap_or_else(|| {
                step_failed(&format!(
                    "the data table has no column {c:?} (it has | {} |)",
                    header.join(" | ")
                ))
            })
        })
        .collect();
    rows.map(|r| {
        positions
            .iter()
            .map(|i| r.get(*i).map(|c| c.trim().to_string()).unwrap_or_default())
            .collect()
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_where_the_field_is_text() {
        let s = Value::String("x".into());
        assert_eq!(typed(Some(&s), "1200023305967"), Value::String("1200023305967".into()));
        assert_eq!(typed(Some(&Value::from(3)), "42"), Value::from(42));
        assert_eq!(typed(None, "true"), Value::Bool(true));
        assert_eq!(typed(None, "ACTIVE"), Value::String("ACTIVE".into()));
        assert_eq!(typed(Some(&s), "null"), Value::Null);
        let wrapped = serde_json::json!({"string": "a"});
        assert_eq!(typed(Some(&wrapped), "7"), Value::String("7".into()));
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(list(" a, b ,,c"), vec!["a", "b", "c"]);
    }
}

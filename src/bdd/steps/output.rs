//! What a service under test wrote: for every account the scenario
//! produced, the messages the service published on its output topic, in
//! order, against what the produced events imply. The table maps each
//! state of the flow to the message the service should publish for it
//! (`-` in every cell: none), with `{flow id}` and `{key}` standing for
//! the event's own flow id and key.

use std::collections::BTreeMap;
use std::time::Duration;

use cucumber::gherkin::Step;
use cucumber::then;

use super::super::world::{FlowWorld, environment, off_thread, step_failed};
use super::state_of;
use crate::flow::fields;
use crate::kafka::observer::{Decoder, first_match};

/// A message the service should publish: (field, value) pairs.
type Expected = Vec<(String, String)>;

/// The table: the fields it names, and per state what to expect.
fn expectations(step: &Step) -> (Vec<String>, BTreeMap<String, Option<Expected>>) {
    let Some(table) = step.table.as_ref() else {
        step_failed("this step needs a table: | event | field ... |")
    };
    let Some((header, rows)) = table.rows.split_first() else {
        step_failed("the table is empty")
    };
    if header.len() < 2 || header[0] != "event" {
        step_failed("the table's header is | event | a field of the output message ... |");
    }
    let fields = header[1..].to_vec();
    let mut by_state = BTreeMap::new();
    for row in rows {
        let values = &row[1..];
        let message = if values.iter().all(|v| v == "-") {
            None
        } else {
            Some(fields.iter().cloned().zip(values.iter().cloned()).collect())
        };
        by_state.insert(row[0].clone(), message);
    }
    (fields, by_state)
}

fn render(message: &[(String, String)]) -> String {
    let parts: Vec<String> = message.iter().map(|(f, v)| format!("{f}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

#[then(expr = "within {int} seconds the topic {string} shows each account's events as:")]
async fn the_output_follows_the_events(w: &mut FlowWorld, within: i64, topic: String, step: &Step) {
    let within = u64::try_from(within)
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
        .unwrap_or_else(|| step_failed(&format!("{within} seconds: give a positive number")));
    let topic = topic.replace("{topic}", &w.topic);
    let (fields_named, by_state) = expectations(step);
    let spec = w.flow().clone();
    for state in by_state.keys() {
        if spec.state_index(state).is_none() {
            step_failed(&format!("flow {} has no state {state:?}", spec.name));
        }
    }
    // What each account should see, from what was produced, in order.
    let mut wanted: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
    for o in &w.run().observed {
        let (Some(key), Ok(value)) = (&o.key, &o.value) else {
            continue;
        };
        let Some(state) = state_of(&spec, value) else { continue };
        let Some(expected) = by_state.get(state) else {
            step_failed(&format!("the table has no row for the {state} event"));
        };
        let flow_id = spec
            .classify(value)
            .ok()
            .and_then(|s| spec.flow_id_of(value, s))
            .unwrap_or_default();
        let message = expected.as_ref().map(|m| {
            m.iter()
                .map(|(f, v)| (f.clone(), v.replace("{flow id}", &flow_id).replace("{key}", key)))
                .collect()
        });
        let list = wanted.entry(key.clone()).or_default();
        list.extend(message);
    }
    if wanted.is_empty() {
        w.fail("nothing the scenario produced calls for a message on the output topic");
    }
    off_thread(w, move |w| {
        let env = environment();
        let decoder = Decoder {
            registry: env.registry.clone(),
        };
        let mut seen: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
        let mut undecodable = Vec::new();
        let complete = first_match(&env.cluster, &topic, &decoder, within, &mut |o| {
            match (&o.key, &o.value) {
                (Some(key), Ok(value)) if wanted.contains_key(key) => {
                    let message = fields_named
                        .iter()
                        .map(|f| {
                            (
                                f.clone(),
                                fields::get(value, f)
                                    .map(fields::text)
                                    .unwrap_or_else(|| "(missing)".into()),
                            )
                        })
                        .collect();
                    seen.entry(key.clone()).or_default().push(message);
                }
                (_, Err(e)) => undecodable.push(format!("partition {}, offset {}: {e}", o.partition, o.offset)),
                _ => {}
            }
            wanted.iter().all(|(k, v)| seen.get(k).map_or(0, Vec::len) >= v.len())
        })
        .unwrap_or_else(|e| step_failed(&e.to_string()));
        let mut wrong = Vec::new();
        for (key, expected) in &wanted {
            let actual = seen.get(key).map_or(&[][..], Vec::as_slice);
            if actual != expected.as_slice() {
                // The first message that differs says what went wrong.
                let at = expected.iter().zip(actual).take_while(|(e, a)| e == a).count();
                let show = |m: Option<&Expected>| m.map_or_else(|| "nothing".into(), |m| render(m));
                wrong.push(format!(
                    "  account {key}: message {} of {}: expected {}, observed {}",
                    at + 1,
                    expected.len(),
                    show(expected.get(at)),
                    show(actual.get(at))
                ));
            }
        }
        if !wrong.is_empty() || !undecodable.is_empty() {
            let shown = wrong.len().min(10);
            w.fail(&format!(
                "{} of {} accounts on {topic} do not follow their events{}:\n{}{}{}",
                wrong.len(),
                wanted.len(),
                if complete.is_err() {
                    format!(" (waited {}s)", within.as_secs())
                } else {
                    String::new()
                },
                wrong[..shown].join("\n"),
                if wrong.len() > shown {
                    format!("\n  … and {} more", wrong.len() - shown)
                } else {
                    String::new()
                },
                if undecodable.is_empty() {
                    String::new()
                } else {
                    format!("\n  undecodable: {}", undecodable.join("; "))
                }
            ));
        }
    })
    .await;
}

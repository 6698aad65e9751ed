//! What the observer saw on the scenario's topic: complete flows, loss,
//! violations (by rule and account), decoding, order, and the fields of
//! observed events.

use cucumber::then;

use super::super::world::{Contract, FlowWorld, step_failed};
use super::{field_text, known_state, state_of};
use crate::flow::checker::{Observed, Rule};

fn rule(name: &str) -> Rule {
    Rule::parse(name).unwrap_or_else(|| {
        let known: Vec<&str> = Rule::ALL.iter().map(Rule::name).collect();
        step_failed(&format!("unknown rule {name:?} (rules: {})", known.join(", ")))
    })
}

fn findings(w: &FlowWorld) -> String {
    let lines: Vec<String> = w.run().check.findings.iter().map(ToString::to_string).collect();
    if lines.is_empty() {
        "(none)".into()
    } else {
        lines.join("\n")
    }
}

#[then(expr = "{int} complete {word} flows are observed")]
fn complete_flows_are_observed(w: &mut FlowWorld, n: u64, path: String) {
    if w.flow().path(&path).is_none() {
        let known: Vec<&str> = w.flow().paths().iter().map(|p| p.name.as_str()).collect();
        step_failed(&format!(
            "flow {} has no path {path:?} (paths: {})",
            w.flow().name(),
            known.join(", ")
        ));
    }
    let seen = w.run().check.complete_by_path.get(&path).copied().unwrap_or(0);
    if seen != n {
        w.fail(&format!(
            "expected {n} complete {path} flows, observed {seen} ({:?})",
            w.run().check.complete_by_path
        ));
    }
}

#[then("nothing is lost or duplicated")]
fn nothing_lost_or_duplicated(w: &mut FlowWorld) {
    let r = w.run();
    if r.lost > 0 || r.duplicated > 0 || r.delivery.failed > 0 {
        w.fail(&format!(
            "lost {}, duplicated {}, failed {}: {:?}",
            r.lost, r.duplicated, r.delivery.failed, r.delivery.failures
        ));
    }
}

#[then("no violations are reported")]
fn no_violations(w: &mut FlowWorld) {
    let r = w.run();
    if r.check.errors > 0 {
        w.fail(&format!("{} violations:\n{}", r.check.errors, findings(w)));
    }
}

#[then(expr = "a(n) {word} violation is reported")]
fn a_violation_is_reported(w: &mut FlowWorld, name: String) {
    let rule = rule(&name);
    if !w.run().check.has(rule) {
        w.fail(&format!("no {rule} violation; found:\n{}", findings(w)));
    }
}

#[then(expr = "a(n) {word} violation is reported for the account {string}")]
fn a_violation_is_reported_for(w: &mut FlowWorld, name: String, account: String) {
    let rule = rule(&name);
    let hit = w
        .run()
        .check
        .findings
        .iter()
        .any(|f| f.rule == rule && f.key.as_deref() == Some(account.as_str()));
    if !hit {
        w.fail(&format!(
            "no {rule} violation for the account {account}; found:\n{}",
            findings(w)
        ));
    }
}

#[then("every message decodes with the registered schema")]
fn every_message_decodes(w: &mut FlowWorld) {
    if w.run().check.has(Rule::SchemaInvalid) {
        w.fail(&format!(
            "some messages did not decode or broke the schema:\n{}",
            findings(w)
        ));
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
            w.fail(&format!("order broken ({rule}):\n{}", findings(w)));
        }
    }
}

/// Observed events of `state` (any state for a schema-only contract),
/// optionally of one account, with their bodies.
fn events_of<'w>(w: &'w FlowWorld, state: &str, account: Option<&str>) -> Vec<(&'w Observed, &'w serde_json::Value)> {
    let flow = match &w.contract {
        Some(Contract::Flow(f)) => {
            known_state(f, state);
            Some(f.clone())
        }
        _ => None,
    };
    w.run()
        .observed
        .iter()
        .filter(|o| account.is_none_or(|a| o.key.as_deref() == Some(a)))
        .filter_map(|o| {
            let value = o.value.as_ref().ok()?;
            match &flow {
                Some(f) if state_of(f, value) == Some(state) => Some((o, value)),
                Some(_) => None,
                None => Some((o, value)),
            }
        })
        .collect()
}

#[then(expr = "the {word} event of the account {string} has {word} equal to {string}")]
fn a_field_equals(w: &mut FlowWorld, state: String, account: String, field: String, expected: String) {
    let flow = w.flow_spec();
    let events = events_of(w, &state, Some(&account));
    // With a restart there are several: the last one observed counts.
    let Some((o, value)) = events.last() else {
        w.fail(&format!("no {state} event of the account {account} was observed"));
    };
    let actual = field_text(flow.as_deref(), value, &field);
    if actual.as_deref() != Some(expected.as_str()) {
        w.fail(&format!(
            "the {state} event of the account {account} (partition {}, offset {}): {field} is {}, expected {expected:?}",
            o.partition,
            o.offset,
            actual.map_or_else(|| "missing".into(), |a| format!("{a:?}"))
        ));
    }
}

#[then(expr = "every {word} event has {word} matching {string}")]
fn every_field_matches(w: &mut FlowWorld, state: String, field: String, pattern: String) {
    let re = regex::Regex::new(&format!("^(?:{pattern})$"))
        .unwrap_or_else(|e| step_failed(&format!("pattern {pattern:?}: {e}")));
    let flow = w.flow_spec();
    let events = events_of(w, &state, None);
    if events.is_empty() {
        w.fail(&format!("no {state} event was observed"));
    }
    let wrong: Vec<String> = events
        .iter()
        .filter_map(|(o, value)| {
            let actual = field_text(flow.as_deref(), value, &field);
            match actual {
                Some(a) if re.is_match(&a) => None,
                other => Some(format!(
                    "  partition {}, offset {}, key {}: {field} = {}",
                    o.partition,
                    o.offset,
                    o.key.as_deref().unwrap_or("(none)"),
                    other.map_or_else(|| "missing".into(), |a| format!("{a:?}"))
                )),
            }
        })
        .collect();
    if !wrong.is_empty() {
        w.fail(&format!(
            "{} of {} {state} events have {field} not matching {pattern:?}:\n{}",
            wrong.len(),
            events.len(),
            wrong.join("\n")
        ));
    }
}

//! Flow contracts: specs, the seed fixture, generated flow sets passing the
//! checker, and every mutation caught with the right rule.

use crate::common;

use std::sync::Arc;

use common::repo_path;
use flowharness::fixture::Fixture;
use flowharness::flow::checker::{CheckOptions, Checker, Observed, Report, Rule};
use flowharness::flow::fixture_io::{Keyed, as_observed, observed};
use flowharness::flow::generator::{self, FlowGenerator, FlowSetShape};
use flowharness::flow::{FlowSpec, Severity, shipped};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use serde_json::{Value, json};

fn migration() -> FlowSpec {
    shipped::resolve("account-migration").unwrap()
}

fn catalog() -> FlowSpec {
    shipped::resolve("subscription-catalog").unwrap()
}

fn check(spec: &FlowSpec, messages: &[Observed]) -> Report {
    let mut checker = Checker::new(
        spec,
        CheckOptions {
            incomplete: Some(Severity::Error),
            ..CheckOptions::default()
        },
    );
    for m in messages {
        checker.observe(m);
    }
    checker.finish()
}

fn rules(report: &Report) -> Vec<Rule> {
    report.counts.keys().copied().collect()
}

#[test]
fn the_shipped_flows_load_from_files_and_from_the_binary() {
    for name in shipped::names() {
        let from_file = FlowSpec::load(&repo_path(&format!("flows/{name}.toml"))).unwrap();
        let embedded = shipped::resolve(name).unwrap();
        assert_eq!(from_file.name(), embedded.name());
        assert_eq!(from_file.transitions(), embedded.transitions());
    }
    let m = migration();
    assert_eq!(m.key().text, "accountId");
    assert_eq!(
        m.key().at(0).map(|p| p.text()),
        Some("event.BalanceRetrievedMigrationEvent.accountId"),
        "the short form resolves inside the state's branch"
    );
    let ids: Vec<&str> = m.flow_id().iter().map(|f| f.text.as_str()).collect();
    assert_eq!(ids, ["enrollmentId"]);
    let names: Vec<&str> = m.paths().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["cancel", "happy", "rollback"]);
}

#[test]
fn the_seed_fixture_is_schema_valid_and_has_exactly_one_flow_violation() {
    let fixture = Fixture::load(&repo_path("fixtures/complex.json")).unwrap();
    let report = check(&migration(), &observed(&fixture));
    assert_eq!(report.errors, 1, "{:#?}", report.findings);
    let error = report.findings.iter().find(|f| f.severity == Severity::Error).unwrap();
    assert_eq!(error.rule, Rule::UnknownFlow);
    assert_eq!(error.flow_id.as_deref(), Some("123"));
    assert_eq!(
        error.to_string(),
        "error[unknown-flow] partition 0 offset 0 key 2222222 flow 123: Completed for a flow that never started (no Scheduled)"
    );
    assert!(!report.has(Rule::SchemaInvalid));
}

fn spec_error(edit: &dyn Fn(&str) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::copy(
        repo_path("schemas/account-migration-event.avsc"),
        dir.path().join("schemas/account-migration-event.avsc"),
    )
    .unwrap();
    let text = std::fs::read_to_string(repo_path("flows/account-migration.toml")).unwrap();
    let path = dir.path().join("flows/f.toml");
    std::fs::write(&path, edit(&text)).unwrap();
    FlowSpec::load(&path)
        .unwrap_err()
        .to_string()
        .replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn bad_specs_are_rejected_naming_file_and_key() {
    assert_eq!(
        spec_error(&|t| t.replace("Validated = { Completed = 100 }", "Validated = { Complete = 100 }")),
        "flows/f.toml: transitions.Validated.Complete: unknown state \"Complete\" (states: BalanceRetrieved, Cancelled, Completed, RollBackInitiated, RolledBack, Scheduled, Validated)\n\
         flows/f.toml: transitions.Validated: state \"Validated\" is not an end state and has no transitions: flows would stop nowhere\n\
         flows/f.toml: flow.end[0]: end state \"Completed\" cannot be reached from a start state\n\
         flows/f.toml: flow.end[2]: end state \"RolledBack\" cannot be reached from a start state\n\
         flows/f.toml: paths.happy[0]: Validated → Completed is not an allowed transition\n\
         flows/f.toml: paths.rollback[0]: Validated → Completed is not an allowed transition"
    );
    assert_eq!(
        spec_error(&|t| t.replace("key = \"accountId\"", "key = \"acountId\"")),
        "flows/f.toml: key: field \"acountId\" is missing from state BalanceRetrieved: \
         record BalanceRetrievedMigrationEvent has no field \"acountId\" \
         (fields: metadata, enrollmentId, accountId, mpan, effectiveEnrollmentDate, retrievedAt), nor has the message root"
    );
    assert_eq!(
        spec_error(&|t| t.replace(
            "RollBackInitiated = { RolledBack = 100 }",
            "RollBackInitiated = { RollBackInitiated = 1 }"
        )),
        "flows/f.toml: flow.end[2]: end state \"RolledBack\" cannot be reached from a start state\n\
         flows/f.toml: paths.rollback[0]: RollBackInitiated → RolledBack is not an allowed transition"
    );
    assert_eq!(
        spec_error(&|t| t.replace(
            "Scheduled = \"AccountMigrationScheduledEvent\"",
            "Scheduled = \"AccountMigrationPlannedEvent\""
        )),
        "flows/f.toml: states.Scheduled: union \"event\" has no branch \"AccountMigrationPlannedEvent\" (branches: AccountMigrationCancelledEvent, AccountMigrationCompletedEvent, AccountMigrationRollBackInitiatedEvent, AccountMigrationRolledBackEvent, AccountMigrationScheduledEvent, AccountMigrationValidatedEvent, BalanceRetrievedMigrationEvent)"
    );
    assert_eq!(
        spec_error(&|t| t.replace(
            "field = \"scheduledAt\", at = \"-2d\"",
            "field = \"scheduledAt\", at = \"-2 days\""
        )),
        "flows/f.toml: timing.states.Scheduled.at: expected a duration such as 500ms, 30s, 15m, 12h, 2d or 1d12h, found \"-2 days\""
    );
    let syntax = spec_error(&|t| t.replace("[flow]", "[flow"));
    assert!(
        syntax.starts_with("flows/f.toml: TOML parse error at line "),
        "{syntax}"
    );
}

fn keyed_check(spec: &FlowSpec, messages: &[Keyed]) -> Report {
    check(spec, &as_observed(messages, 3))
}

fn flow_sets(spec: &Arc<FlowSpec>, flows: usize, mix: &str) -> impl Strategy<Value = (FlowSetShape, Vec<Keyed>)> {
    let generator = std::rc::Rc::new(FlowGenerator::new(spec, common::flow_options(spec, flows, mix)).unwrap());
    let shapes = generator.shapes();
    // A shape with nothing to reference (only groups) cannot be materialized.
    shapes.prop_filter_map("a flow set that can be materialized", move |shape| {
        generator.materialize(&shape).ok().map(|messages| (shape, messages))
    })
}

#[test]
fn every_generated_migration_flow_set_passes_the_checker() {
    let spec = Arc::new(migration());
    let mut runner = TestRunner::new(Config {
        cases: 150,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &flow_sets(&spec, 12, "happy=80,cancel=15,rollback=5"),
            |(_, messages)| {
                let report = keyed_check(&spec, &messages);
                prop_assert!(report.findings.is_empty(), "{:#?}", report.findings);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn every_generated_catalog_passes_the_checker() {
    let spec = Arc::new(catalog());
    let mut runner = TestRunner::new(Config {
        cases: 100,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &flow_sets(&spec, 8, "subscription=3,update=1,group=2"),
            |(_, messages)| {
                let report = keyed_check(&spec, &messages);
                prop_assert!(report.findings.is_empty(), "{:#?}", report.findings);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn failing_properties_over_flows_shrink_to_the_minimal_flow_set() {
    let spec = Arc::new(migration());
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&flow_sets(&spec, 10, ""), |(_, messages)| {
        let report = keyed_check(&spec, &messages);
        prop_assert!(!report.complete_by_path.contains_key("rollback"));
        Ok(())
    });
    let Err(TestError::Fail(_, (shape, messages))) = result else {
        panic!("the property should fail")
    };
    // One stream: the rollback flow and its restart.
    assert_eq!(shape.streams.len(), 1, "{shape:?}");
    assert_eq!(messages.len(), 6 + 4, "{messages:#?}");
}

fn event_body<'v>(spec: &FlowSpec, v: &'v mut Value) -> &'v mut Value {
    match spec.name() {
        "account-migration" => v["event"].as_object_mut().unwrap().values_mut().next().unwrap(),
        _ => v,
    }
}

fn state_of(spec: &FlowSpec, v: &Value) -> String {
    spec.states()[spec.classify(v).unwrap()].name.clone()
}

/// Applies `mutate` to a generated happy/cancel/rollback set and returns
/// the rules the checker reports.
fn mutated(spec: &FlowSpec, seed: u64, mutate: &dyn Fn(&FlowSpec, &mut Vec<Keyed>)) -> Vec<Rule> {
    let mut messages = generator::generate(
        spec,
        &common::flow_options(spec, 6, "happy=1,cancel=1,rollback=1"),
        seed,
    )
    .unwrap();
    assert!(keyed_check(spec, &messages).findings.is_empty());
    mutate(spec, &mut messages);
    rules(&keyed_check(spec, &messages))
}

fn index_of(spec: &FlowSpec, messages: &[Keyed], state: &str) -> usize {
    messages.iter().position(|m| state_of(spec, &m.value) == state).unwrap()
}

#[test]
fn mutations_are_caught_with_the_right_rule() {
    let spec = migration();
    // Seeds whose flow sets have every state, so each mutation has a place.
    let seeds: Vec<u64> = (0..100)
        .filter(|seed| {
            let m = generator::generate(
                &spec,
                &common::flow_options(&spec, 6, "happy=1,cancel=1,rollback=1"),
                *seed,
            )
            .unwrap();
            spec.states()
                .iter()
                .all(|st| m.iter().any(|x| state_of(&spec, &x.value) == st.name))
        })
        .take(8)
        .collect();
    assert_eq!(seeds.len(), 8);
    for seed in seeds {
        let has = |rule: Rule, mutate: &dyn Fn(&FlowSpec, &mut Vec<Keyed>)| {
            let found = mutated(&spec, seed, mutate);
            assert!(found.contains(&rule), "seed {seed}: expected {rule}, found {found:?}");
        };
        // An event dropped.
        has(Rule::UnknownFlow, &|s, m| {
            let i = index_of(s, m, "Scheduled");
            let key = m[i].key.clone();
            m.remove(i);
            m.retain(|x| x.key != key || state_of(s, &x.value) != "Scheduled");
        });
        has(Rule::TransitionNotAllowed, &|s, m| {
            let i = index_of(s, m, "Validated");
            m.remove(i);
        });
        has(Rule::IncompleteFlow, &|s, m| {
            let i = index_of(s, m, "Completed");
            let key = m[i].key.clone();
            m.retain(|x| {
                x.key != key
                    || !["Completed", "RollBackInitiated", "RolledBack"].contains(&state_of(s, &x.value).as_str())
            });
        });
        // Two events of one flow swapped.
        has(Rule::TransitionNotAllowed, &|s, m| {
            // BalanceRetrieved and the Validated after it.
            let b = index_of(s, m, "Validated");
            let key = m[b].key.clone();
            let a = (0..b).rev().find(|j| m[*j].key == key).unwrap();
            m.swap(a, b);
        });
        has(Rule::AfterTerminal, &|s, m| {
            // Cancelled moved before the event it followed.
            let b = index_of(s, m, "Cancelled");
            let key = m[b].key.clone();
            let a = (0..b)
                .rev()
                .find(|j| m[*j].key == key && state_of(s, &m[*j].value) != "Scheduled");
            if let Some(a) = a {
                m.swap(a, b);
            } else {
                let late = m[b].clone();
                m.push(late);
            }
        });
        // An event duplicated.
        has(Rule::DuplicateEventId, &|s, m| {
            let i = index_of(s, m, "Completed");
            let copy = m[i].clone();
            m.insert(i + 1, copy);
        });
        // A field changed.
        has(Rule::BrokenInvariant, &|s, m| {
            let i = index_of(s, m, "BalanceRetrieved");
            event_body(s, &mut m[i].value)["mpan"] = json!("1200023305967");
        });
        has(Rule::TimeBackwards, &|s, m| {
            let i = index_of(s, m, "Validated");
            event_body(s, &mut m[i].value)["metadata"]["createdAt"] = json!(0);
        });
        has(Rule::Timing, &|s, m| {
            let i = index_of(s, m, "Scheduled");
            let body = event_body(s, &mut m[i].value);
            let t = body["scheduledAt"].as_i64().unwrap();
            body["scheduledAt"] = json!(t - 5 * 86_400_000);
            body["metadata"]["createdAt"] = json!(t - 5 * 86_400_000);
        });
        has(Rule::KeyMismatch, &|s, m| {
            let i = index_of(s, m, "Validated");
            m[i].key = "9999999".into();
        });
        has(Rule::SchemaInvalid, &|s, m| {
            let i = index_of(s, m, "Validated");
            event_body(s, &mut m[i].value)["accountId"] = Value::Null;
        });
        // Events after the end, and restarts that break the rules.
        has(Rule::AfterTerminal, &|s, m| {
            let i = index_of(s, m, "Cancelled");
            let mut late = m[i].clone();
            let body = event_body(s, &mut late.value);
            body["metadata"]["eventId"] = json!("fresh-event-id");
            m.push(late);
        });
        has(Rule::RestartReusedFlowId, &|s, m| {
            let i = index_of(s, m, "Cancelled");
            let flow = event_body(s, &mut m[i].value)["enrollmentId"].clone();
            let key = m[i].key.clone();
            let j = (i + 1..m.len()).find(|j| m[*j].key == key).unwrap();
            let restarted_flow = event_body(s, &mut m[j].value)["enrollmentId"].clone();
            for x in m.iter_mut().filter(|x| x.key == key) {
                let body = event_body(s, &mut x.value);
                if body["enrollmentId"] == restarted_flow {
                    body["enrollmentId"] = flow.clone();
                }
            }
        });
        has(Rule::RestartWhileOpen, &|s, m| {
            let i = index_of(s, m, "BalanceRetrieved");
            let key = m[i].key.clone();
            let mut again = m
                .iter()
                .find(|x| x.key == key && state_of(s, &x.value) == "Scheduled")
                .unwrap()
                .clone();
            let body = event_body(s, &mut again.value);
            body["enrollmentId"] = json!("another-flow");
            body["metadata"]["eventId"] = json!("another-event");
            m.insert(i + 1, again);
        });
    }
}

#[test]
fn a_group_referencing_an_unknown_subscription_is_flagged() {
    let spec = catalog();
    let found = mutated_catalog(&spec, &|s, m| {
        let i = m.iter().position(|x| state_of(s, &x.value) == "Group").unwrap();
        m[i].value["data"]["subscriptions"] = json!(["NEVER_PUBLISHED"]);
    });
    assert_eq!(found, [Rule::UnknownReference]);
}

fn mutated_catalog(spec: &FlowSpec, mutate: &dyn Fn(&FlowSpec, &mut Vec<Keyed>)) -> Vec<Rule> {
    let mut messages = generator::generate(spec, &common::flow_options(spec, 8, "subscription=2,group=1"), 4).unwrap();
    assert!(keyed_check(spec, &messages).findings.is_empty());
    mutate(spec, &mut messages);
    rules(&keyed_check(spec, &messages))
}

#[test]
fn a_key_on_two_partitions_is_flagged() {
    let spec = migration();
    let messages = generator::generate(&spec, &common::flow_options(&spec, 3, "happy=1"), 1).unwrap();
    let mut seen = as_observed(&messages, 1);
    let last = seen.len() - 1;
    seen[last].partition = 7;
    assert!(rules(&check(&spec, &seen)).contains(&Rule::KeyOnManyPartitions));
}

#[test]
fn the_checker_keeps_open_flows_not_messages() {
    let spec = migration();
    let messages = generator::generate(&spec, &common::flow_options(&spec, 300, "cancel=1"), 9).unwrap();
    let mut checker = Checker::new(&spec, CheckOptions::default());
    for m in as_observed(&messages, 3) {
        checker.observe(&m);
    }
    // Cancelled flows close; each account keeps only its restarted flow.
    assert!(
        checker.open_flows() <= 300,
        "{} open flows for {} messages",
        checker.open_flows(),
        messages.len()
    );
    let report = checker.finish();
    assert_eq!(report.complete_by_path.get("cancel"), Some(&300));
    assert_eq!(report.complete_by_path.get("happy"), Some(&300));
}

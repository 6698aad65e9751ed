//! `flowharness hunt`: shrinking on a schema that is not the seed's (a
//! JSON Schema record with an enum status), and the reference service's
//! planted bugs found, shrunk and saved as replays that fail the same way
//! when run as written.

use std::sync::Arc;

use flowharness::flow::FlowSpec;
use flowharness::flow::generator::{FlowGenerator, FlowOptions, Mix};
use flowharness::generate::hints::Hints;
use flowharness::hunt::case::{Case, flow_id};
use flowharness::hunt::expect::state_of;
use flowharness::hunt::shrink::shrink;

use crate::common::{flowharness, repo_path};

fn parcels() -> FlowSpec {
    flowharness::flow::FlowSpec::load(&repo_path("tests/parcels/parcels.toml")).expect("the parcels spec loads")
}

fn generator(spec: &FlowSpec, flows: usize) -> FlowGenerator<'_> {
    let options = FlowOptions {
        flows,
        mix: Mix::uniform(spec),
        hints: Arc::new(Hints::builtin(1_790_000_000_000)),
        jitter: 0.5,
        time_scale: 1.0,
    };
    FlowGenerator::new(spec, options).expect("generator")
}

fn statuses(spec: &FlowSpec, c: &Case) -> Vec<(String, String)> {
    c.messages
        .iter()
        .map(|m| {
            let s = state_of(spec, m).map_or("?".to_string(), |s| spec.states()[s].name.clone());
            (s, m.key.clone())
        })
        .collect()
}

/// A consumer that never reports a return.
fn returns_lost(spec: &FlowSpec, c: &Case) -> Option<String> {
    statuses(spec, c)
        .iter()
        .any(|(s, _)| s == "Returned")
        .then(|| "a return was lost".to_string())
}

/// A consumer that files a delivery under the parcel placed last.
fn deliveries_crossed(spec: &FlowSpec, c: &Case) -> Option<String> {
    let mut last = None;
    for (s, key) in statuses(spec, c) {
        match s.as_str() {
            "Placed" => last = Some(key),
            "Delivered" if last.as_ref().is_some_and(|l| *l != key) => return Some(format!("{key} crossed")),
            _ => {}
        }
    }
    None
}

#[test]
fn a_lost_return_shrinks_to_one_parcel_and_crossed_deliveries_to_two_interleaved() {
    let spec = parcels();
    let g = generator(&spec, 20);
    let make = |p: usize, a: u32| flowharness::hunt::one_flow(&g, p, a);
    let mut found = (false, false);
    for seed in 0..20u64 {
        let case = Case::new(g.generate(seed).expect("flows"));
        assert!(case.obeys(&spec), "seed {seed}: a generated case obeys its contract");
        if let Some(failure) = returns_lost(&spec, &case) {
            let s = shrink(&spec, case.clone(), failure, 500, Some(&make), &mut |c| {
                Ok(returns_lost(&spec, c))
            })
            .expect("shrinks");
            let names: Vec<String> = statuses(&spec, &s.case).into_iter().map(|(s, _)| s).collect();
            assert_eq!(names, ["Placed", "Delivered", "Returned"], "seed {seed}");
            assert_eq!(s.case.flows(&spec), 1);
            found.0 = true;
        }
        if let Some(failure) = deliveries_crossed(&spec, &case) {
            let s = shrink(&spec, case, failure, 500, Some(&make), &mut |c| {
                Ok(deliveries_crossed(&spec, c))
            })
            .expect("shrinks");
            let names: Vec<String> = statuses(&spec, &s.case).into_iter().map(|(s, _)| s).collect();
            assert_eq!(names, ["Placed", "Placed", "Delivered"], "seed {seed}");
            assert_eq!(s.case.keys().len(), 2);
            assert_ne!(s.case.messages[0].key, s.case.messages[1].key);
            assert!(s.case.obeys(&spec));
            let ids: Vec<String> = s.case.messages.iter().map(|m| flow_id(&spec, m)).collect();
            assert_eq!(ids[0], ids[2], "the delivery is the first parcel's");
            found.1 = true;
        }
    }
    assert_eq!(found, (true, true), "20 seeds of 20 parcels hold both bugs");
}

const TABLE: &str = "\
| event             | state             | flowId    |
| Scheduled         | SCHEDULED         | {flow id} |
| BalanceRetrieved  | BALANCE_RETRIEVED | {flow id} |
| Validated         | VALIDATED         | {flow id} |
| Completed         | MIGRATED          | {flow id} |
| Cancelled         | -                 | -         |
| RollBackInitiated | ROLLING_BACK      | {flow id} |
| RolledBack        | SIEMENS           | {flow id} |
";

/// Hunts the reference service with `bug`, saving the failure; returns
/// the hunt's output and the saved feature file.
fn hunt_and_save(bug: &str, dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let table = dir.join("expect.table");
    std::fs::write(&table, TABLE).unwrap();
    let service = env!("CARGO_BIN_EXE_migration-status-service");
    let command = format!("{service} --group {{group}} --bug {bug}");
    let (code, out, err) = flowharness(&[
        "hunt",
        "--flow",
        "account-migration",
        "--mix",
        "happy=1,cancel=1,rollback=1",
        "--flows",
        "8",
        "--trials",
        "10",
        "--seed",
        "3",
        "--command",
        &command,
        "--group",
        "{topic}-svc",
        "--expect",
        table.to_str().unwrap(),
        "--timeout",
        "20",
        "--save-failures",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{bug}: the hunt finds the bug\n{out}\n{err}");
    let feature = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "feature"))
        .unwrap_or_else(|| panic!("{bug}: a feature file was saved\n{out}"));
    (out, feature)
}

#[test]
fn planted_bugs_are_shrunk_and_their_saved_features_fail_the_same_way() {
    const BUGS: [(&str, &str); 2] = [
        ("rollback-ignored", "1 flow, 1 account"),
        ("stale-flow-id", "2 flows, 1 account"),
    ];
    let runs: Vec<_> = BUGS
        .iter()
        .map(|(bug, size)| {
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let (out, feature) = hunt_and_save(bug, dir.path());
                assert!(out.contains(&format!("to {size}")), "{bug}: shrunk to {size}\n{out}");
                assert!(out.contains("replay the original: --seed"), "{out}");
                // The first difference the hunt printed, as the replay must show it.
                let difference = out
                    .lines()
                    .skip_while(|l| !l.starts_with("expected against observed"))
                    .nth(1)
                    .unwrap_or_else(|| panic!("{bug}: the hunt shows expected against observed\n{out}"))
                    .trim()
                    .to_string();
                let replay = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"))
                    .args(["test", feature.to_str().unwrap()])
                    .current_dir(std::env::temp_dir())
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&replay.stdout);
                assert_eq!(replay.status.code(), Some(1), "{bug}: the replay fails\n{text}");
                assert!(
                    text.contains(&difference),
                    "{bug}: the replay fails with {difference:?}\n{text}"
                );
            })
        })
        .collect();
    for r in runs {
        r.join().unwrap();
    }
}

/// Runs `flowharness test FILE` as a user would: exit code and stdout.
fn run_feature(feature: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"))
        .args(["test", feature.to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn verify_saves_the_flows_with_violations_as_a_replay_that_fails_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let schema = repo_path("tests/parcels/parcel.schema.json");
    let header = serde_json::json!({"format": "flowharness-fixture-lines/1", "schemas": {"parcels": schema}});
    let row = |i: usize, status: &str| {
        format!(
            r#"{{"topic": "parcels", "key": "p-{i:05}", "value": {{"status": "{status}", "parcelId": "p-{i:05}"}}}}"#
        )
    };
    let mut lines = vec![header.to_string()];
    for i in 0..6 {
        if i == 3 {
            // Delivered twice: a transition the contract does not allow.
            lines.push(row(i, "PLACED"));
            lines.push(row(i, "DELIVERED"));
            lines.push(row(i, "DELIVERED"));
        } else {
            lines.push(row(i, "PLACED"));
            lines.push(row(i, "DELIVERED"));
        }
    }
    let file = dir.path().join("parcels.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let saved = dir.path().join("saved");
    let spec = repo_path("tests/parcels/parcels.toml");
    let (code, out, err) = flowharness(&[
        "verify",
        "--file",
        file.to_str().unwrap(),
        "--flow",
        spec.to_str().unwrap(),
        "--save-failures",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let fixture = flowharness::fixture::Fixture::load(&saved.join("parcels-violations.fixture.json")).unwrap();
    let keys: Vec<&serde_json::Value> = fixture.entries.iter().map(|e| &e.key).collect();
    assert_eq!(
        keys,
        [&serde_json::json!("p-00003")],
        "only the parcel with the violation is saved"
    );
    assert_eq!(fixture.entries[0].messages.len(), 3);
    let (code, text) = run_feature(&saved.join("parcels-violations.feature"));
    assert_eq!(code, Some(1), "the replay fails\n{text}");
    assert!(text.contains("violations:"), "{text}");
    assert!(out.contains("transition-not-allowed"), "{out}");
    assert!(
        text.contains("transition-not-allowed"),
        "the replay finds the same violation\n{text}"
    );
}

#[test]
fn a_failing_scenario_is_saved_as_a_replay_that_fails_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let feature = dir.path().join("dropped.feature");
    std::fs::write(
        &feature,
        "Feature: a dropped event\n\n  Scenario: the producer drops an event\n    Given the \"account-migration\" flow\n    \
         When a happy flow is produced with its BalanceRetrieved event dropped\n    Then no violations are reported\n",
    )
    .unwrap();
    let saved = dir.path().join("saved");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"))
        .args([
            "test",
            feature.to_str().unwrap(),
            "--save-failures",
            saved.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let replay = std::fs::read_dir(&saved)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "feature"))
        .unwrap_or_else(|| panic!("a replay was saved\n{text}"));
    let written = std::fs::read_to_string(&replay).unwrap();
    assert!(written.contains("When the fixture \""), "{written}");
    assert!(!written.contains("event dropped"), "{written}");
    let (code, again) = run_feature(&replay);
    assert_eq!(code, Some(1), "the replay fails\n{again}");
    assert!(again.contains("transition-not-allowed"), "{again}");
    assert!(text.contains("transition-not-allowed"), "{text}");
}

#[test]
fn verify_of_a_topic_reads_the_flows_with_violations_again_and_saves_them() {
    let env = flowharness::kafka::Environment::connect(&flowharness::kafka::Connect::default()).unwrap();
    let spec = parcels();
    let status = |i: usize, s: &str| {
        flowharness::verify::Message::keyed(
            format!("p-{i:05}"),
            serde_json::json!({"status": s, "parcelId": format!("p-{i:05}")}),
        )
    };
    let mut messages = Vec::new();
    for i in 0..5 {
        messages.push(status(i, "PLACED"));
        messages.push(status(i, "DELIVERED"));
        if i == 2 {
            messages.push(status(i, "DELIVERED"));
        }
    }
    let topic = "hunt-verify-topic";
    let delivery = flowharness::verify::produce_only(&env, &spec, topic, 3, &messages).unwrap();
    assert_eq!(delivery.failed, 0);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    let spec_path = repo_path("tests/parcels/parcels.toml");
    let registry = env.registry_url();
    let (code, out, err) = flowharness(&[
        "verify",
        "--topic",
        topic,
        "--flow",
        spec_path.to_str().unwrap(),
        "--from-beginning",
        "--timeout",
        "20s",
        "--bootstrap-servers",
        &env.cluster.bootstrap,
        "--registry-url",
        &registry,
        "--save-failures",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("transition-not-allowed"), "{out}");
    let fixture = flowharness::fixture::Fixture::load(&saved.join(format!("{topic}-violations.fixture.json"))).unwrap();
    let keys: Vec<&serde_json::Value> = fixture.entries.iter().map(|e| &e.key).collect();
    assert_eq!(
        keys,
        [&serde_json::json!("p-00002")],
        "only the parcel with the violation is saved\n{out}"
    );
    assert_eq!(fixture.entries[0].messages.len(), 3);
    let (code, text) = run_feature(&saved.join(format!("{topic}-violations.feature")));
    assert_eq!(code, Some(1), "the replay fails\n{text}");
    assert!(
        text.contains("transition-not-allowed"),
        "the replay finds the same violation\n{text}"
    );
}

#[test]
fn a_load_failure_no_flow_shows_is_said_and_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    let (code, out, err) = flowharness(&[
        "load",
        "--flow",
        "account-migration",
        "--rate",
        "50/s",
        "--duration",
        "1s",
        "--time-scale",
        "0",
        "--observe",
        "--max-p99",
        "0ms",
        "--save-failures",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("SLO breached"), "{out}");
    assert!(out.contains("not saved: no violation names an account"), "{out}");
    assert!(!saved.exists(), "nothing is written for a failure no flow shows");
}

//! `flowharness steps` and `flowharness test` on feature files that are
//! not in this repository.

use std::process::Command;

fn flowharness(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowharness"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn steps_lists_every_step_the_library_defines() {
    let (code, out) = flowharness(&["steps"]);
    assert_eq!(code, 0);
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/bdd/steps.rs")).unwrap();
    let mut defined = Vec::new();
    for line in source.lines().map(str::trim) {
        for keyword in ["given", "when", "then"] {
            let Some(rest) = line.strip_prefix(&format!("#[{keyword}(")) else {
                continue;
            };
            let pattern = rest
                .trim_start_matches("expr = ")
                .trim_end_matches(")]")
                .trim_matches('"')
                .replace("\\\"", "\"");
            defined.push(format!("{}{} {pattern}", keyword[..1].to_uppercase(), &keyword[1..]));
        }
    }
    let listed: Vec<&str> = out.lines().filter(|l| !l.starts_with("    e.g. ")).collect();
    assert_eq!(listed, defined, "the catalogue and the step definitions differ");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("    e.g. ")).count(),
        defined.len(),
        "every step has an example"
    );
}

#[test]
fn a_feature_file_from_elsewhere_runs_and_an_unknown_step_fails() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("mine.feature");
    std::fs::write(
        &good,
        "Feature: mine\n  Scenario: cancels restart\n    Given the \"account-migration\" flow\n    When 3 cancel flows are produced\n    Then 3 complete cancel flows are observed\n    And 3 complete happy flows are observed\n    And no violations are reported\n",
    )
    .unwrap();
    let junit = dir.path().join("out.xml");
    let (code, out) = flowharness(&["test", good.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite") && xml.contains("cancels restart"), "{xml}");

    let bad = dir.path().join("typo.feature");
    std::fs::write(&bad, "Feature: typo\n  Scenario: a step nobody defined\n    Given the \"account-migration\" flow\n    When 3 happy flows are sent\n").unwrap();
    let (code, out) = flowharness(&["test", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "an unknown step fails the run: {out}");
}

#[test]
fn the_readme_lists_the_same_steps() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter(|l| l.starts_with("| Given ") || l.starts_with("| When ") || l.starts_with("| Then "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect();
    let catalogue: Vec<(String, String)> = flowharness::bdd::CATALOGUE
        .iter()
        .map(|(k, p, e)| (format!("{k} {p}"), e.to_string()))
        .collect();
    assert_eq!(rows, catalogue, "README's step table and `flowharness steps` differ");
}

#[test]
fn tags_select_scenarios_and_a_bad_expression_is_refused() {
    let (code, out) = flowharness(&[
        "test",
        "features/account_migration_rollback.feature",
        "--tags",
        "not @rollback",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 scenarios"), "{out}");
    let (code, out) = flowharness(&[
        "test",
        "features/account_migration_rollback.feature",
        "--tags",
        "@rollback and",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 2, "{out}");
}

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
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn steps_lists_every_step_the_library_defines() {
    let (code, out) = flowharness(&["steps"]);
    assert_eq!(code, 0);
    let mut catalogue = Vec::new();
    for (keyword, pattern, example) in flowharness::bdd::CATALOGUE {
        catalogue.push(format!("{keyword} {pattern}"));
        catalogue.push(format!("    e.g. {example}"));
    }
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        catalogue.join("\n").lines().collect::<Vec<_>>()
    );

    // Every example runs into exactly one step, each into a different one,
    // and the library defines no step the catalogue leaves out.
    let matched =
        flowharness::bdd::preflight::matched_steps(flowharness::bdd::CATALOGUE.iter().map(|(_, _, example)| *example))
            .unwrap();
    let distinct: std::collections::BTreeSet<_> = matched.iter().collect();
    assert_eq!(
        distinct.len(),
        flowharness::bdd::CATALOGUE.len(),
        "two examples ran into one step"
    );
    let mut defined = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/flowharness-bdd/src/steps")).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        defined += source
            .lines()
            .map(str::trim)
            .filter(|l| ["#[given(", "#[when(", "#[then("].iter().any(|k| l.starts_with(k)))
            .count();
    }
    assert_eq!(
        defined,
        flowharness::bdd::CATALOGUE.len(),
        "a step is missing from the catalogue"
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
    assert_eq!(code, 2, "an unknown step is bad input: {out}");
    assert!(
        out.contains("typo.feature:4: unknown step")
            && out.contains("did you mean")
            && out.contains("{int} {word} flows are produced"),
        "{out}"
    );

    let broken = dir.path().join("broken.feature");
    std::fs::write(
        &broken,
        "Feature: broken\n  Scenario: a table row cut short\n    Given the \"account-migration\" flow\n    | a | b\n",
    )
    .unwrap();
    let (code, out) = flowharness(&["test", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "a syntax error is bad input: {out}");
    assert!(out.contains("broken.feature: not valid Gherkin: Error at "), "{out}");

    // Mistyped keywords make steps description text: a scenario with no
    // steps would pass, so it is refused with its file and line.
    let empty = dir.path().join("empty.feature");
    std::fs::write(
        &empty,
        "Feature: empty
  Scenario: typos
    Given
    Whe n broken

  Scenario: fine
    Given the \"account-migration\" flow
",
    )
    .unwrap();
    let (code, out) = flowharness(&["test", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "a scenario with no steps is bad input: {out}");
    assert!(
        out.contains("empty.feature:2: scenario \"typos\" has no steps: it would pass without testing anything"),
        "{out}"
    );
    assert!(!out.contains("empty.feature:6"), "{out}");
}

#[test]
fn the_readme_lists_the_same_steps() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter(|l| l.starts_with("| Given ") || l.starts_with("| When ") || l.starts_with("| Then "))
        .map(|l| {
            let cells: Vec<String> = l
                .replace("\\|", "\u{1}")
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('\u{1}', "\\|"))
                .collect();
            (cells[0].clone(), cells[1].clone())
        })
        .collect();
    let catalogue: Vec<(String, String)> = flowharness::bdd::CATALOGUE
        .iter()
        .map(|(k, p, e)| (format!("{k} {p}"), e.replace('|', "\\|").replace('\n', "<br>")))
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

#[test]
fn an_expected_failure_passes_only_when_its_last_step_fails() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, steps: &str| {
        let path = dir.path().join(format!("{name}.feature"));
        let text = format!(
            "Feature: {name}\n  @expected-failure\n  Scenario: {name}\n    Given the \"account-migration\" flow\n{steps}"
        );
        std::fs::write(&path, text).unwrap();
        let junit = dir.path().join(format!("{name}.xml"));
        let (code, out) = flowharness(&["test", path.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
        (code, out, std::fs::read_to_string(junit).unwrap())
    };
    // The last step fails: what the scenario is for, so it passes, and the
    // console and JUnit say so.
    let (code, out, xml) = run(
        "caught",
        "    When 2 happy flows are produced\n    Then 3 complete happy flows are observed\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("expected failure, caught:") && out.contains("1 passed"),
        "{out}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
    // Every step passes: the planted bug went unnoticed.
    let (code, out, xml) = run(
        "unnoticed",
        "    When 2 happy flows are produced\n    Then 2 complete happy flows are observed\n",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("went unnoticed"), "{out}");
    assert!(xml.contains("<failure"), "{xml}");
    // A step before the last fails: that is not the failure expected.
    let (code, out, _) = run(
        "too-early",
        "    When 2 happy flows are produced\n    Then 3 complete happy flows are observed\n    And no violations are reported\n",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        !out.contains("went unnoticed"),
        "a step failed, so nothing went unnoticed: {out}"
    );
    assert!(out.contains("a step before the last failed"), "{out}");
}

#[test]
fn a_step_with_a_bad_argument_is_bad_input_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("args.feature");
    std::fs::write(
        &path,
        "Feature: args\n  Scenario: s\n    Given the \"account-migration\" flow\n    When -3 happy flows are produced\n    And 2 sideways flows are produced\n",
    )
    .unwrap();
    let (code, out) = flowharness(&["test", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("args.feature:4: ") && out.contains("-3 flows: give a positive number"),
        "{out}"
    );
    assert!(
        out.contains("args.feature:5: ") && out.contains("no path \"sideways\""),
        "{out}"
    );
    assert!(!out.contains("run seed"), "nothing ran: {out}");
}

/// Processes whose command line has `marker`, from /proc.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(marker) {
                found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn started_commands_are_stopped_with_their_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sleepers.feature");
    // A background child of sh and its foreground one: killing sh alone leaves both.
    let marker = format!("30{}.25", std::process::id() % 10);
    std::fs::write(
        &path,
        format!(
            "Feature: sleepers\n  Scenario: a command that starts others\n    Given the \"account-migration\" flow\n    When the command \"sleep {marker} & sleep {marker}\" is started\n    And 1 happy flows are produced\n"
        ),
    )
    .unwrap();
    let (code, out) = flowharness(&["test", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let left = processes_with(&format!("sleep {marker}"));
    assert!(left.is_empty(), "still running after the run: {left:?}");
}

/// `bdd::run` writes what a run prints (cucumber's writer and the run's
/// own lines) to the writer it is given, as `cli::run` hands it on.
#[test]
fn a_run_prints_to_the_writer_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let feature = dir.path().join("console.feature");
    std::fs::write(
        &feature,
        "Feature: Console routing\n  Scenario: A contract alone\n    Given the \"account-migration\" flow\n    And the seed 42\n",
    )
    .unwrap();
    let options = flowharness::bdd::TestOptions {
        paths: vec![feature],
        concurrency: 1,
        ..Default::default()
    };
    let mut out = Vec::new();
    let passed = flowharness::bdd::run(&options, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(passed, "{text}");
    assert!(text.contains("run seed: "), "{text}");
    assert!(text.contains("Feature: Console routing"), "{text}");
    assert!(text.contains("1 scenario (1 passed)"), "{text}");
}

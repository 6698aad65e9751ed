//! The second half of the preflight: a step's arguments, checked against
//! the scenario's flow before anything runs, so `-3 flows`, a path or
//! state the flow does not have, or a mix that does not parse is bad input
//! (exit 2) naming the file and line, not a failure found minutes in.
//! Scenario outlines are checked once per examples row.

use std::sync::LazyLock;

use cucumber::gherkin::{Feature, Scenario, Step};
use regex::Regex;

use crate::error::Diagnostic;
use crate::flow::FlowSpec;
use crate::flow::generator::Mix;

/// Counts that must be positive (flows to produce, seconds to wait), and
/// counts that must not be negative (flows expected).
static POSITIVE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^(-?\d+) (?:[\w-]+ )?(flows) are produced",
        r"within (-?\d+) (seconds)",
    ]
    .iter()
    .map(|p| Regex::new(p).unwrap_or_else(|e| unreachable!("{e}")))
    .collect()
});
static NOT_NEGATIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(-\d+) complete ").unwrap_or_else(|e| unreachable!("{e}")));
/// Steps whose `{word}` is a path of the flow.
static PATH: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^-?\d+ ([\w-]+) flows are produced$",
        r"^an? ([\w-]+) flow is produced",
        r"^([\w-]+) flows are produced for the accounts ",
        r"^-?\d+ complete ([\w-]+) flows are observed$",
    ]
    .iter()
    .map(|p| Regex::new(p).unwrap_or_else(|e| unreachable!("{e}")))
    .collect()
});
/// Steps whose `{word}`s are states of the flow.
static STATE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r" with its ([\w-]+) event (?:dropped|duplicated|not matching the schema)$",
        r" with its ([\w-]+) and ([\w-]+) events swapped$",
        r" with [\w.\[\]-]+ of its ([\w-]+) event set to ",
        r"^the ([\w-]+) event of the account ",
        r"^every ([\w-]+) event has ",
    ]
    .iter()
    .map(|p| Regex::new(p).unwrap_or_else(|e| unreachable!("{e}")))
    .collect()
});
static FLOW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^the "([^"]+)" flow$"#).unwrap_or_else(|e| unreachable!("{e}")));
static MIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"with the mix "([^"]*)"$"#).unwrap_or_else(|e| unreachable!("{e}")));

/// The scenario's steps with an examples row's values put in.
fn expanded(steps: &[&Step], scenario: &Scenario) -> Vec<Vec<(usize, String)>> {
    let plain = || {
        steps
            .iter()
            .map(|s| (s.position.line, s.value.clone()))
            .collect::<Vec<_>>()
    };
    let mut runs = Vec::new();
    for examples in &scenario.examples {
        let Some(table) = &examples.table else { continue };
        let Some((header, rows)) = table.rows.split_first() else {
            continue;
        };
        for row in rows {
            runs.push(
                steps
                    .iter()
                    .map(|s| {
                        let mut text = s.value.clone();
                        for (name, value) in header.iter().zip(row) {
                            text = text.replace(&format!("<{name}>"), value);
                        }
                        (s.position.line, text)
                    })
                    .collect(),
            );
        }
    }
    if runs.is_empty() {
        runs.push(plain());
    }
    runs
}

fn check_run(run: &[(usize, String)], file: &str, problems: &mut Vec<Diagnostic>) {
    let mut spec: Option<FlowSpec> = None;
    for (line, text) in run {
        let at = format!("{file}:{line}");
        let mut problem = |message: String| {
            let d = Diagnostic::new(message).within(&at);
            if !problems.iter().any(|p| p.to_string() == d.to_string()) {
                problems.push(d);
            }
        };
        if let Some(c) = FLOW.captures(text) {
            // A spec file is resolved at run time, against the run's folder.
            spec = crate::contract::resolve_flow(&c[1]).ok();
        }
        for re in POSITIVE.iter() {
            if let Some(c) = re.captures(text)
                && c[1].parse::<i64>().map_or(true, |n| n <= 0)
            {
                problem(format!("\"{text}\": {} {}: give a positive number", &c[1], &c[2]));
            }
        }
        if let Some(c) = NOT_NEGATIVE.captures(text) {
            problem(format!("\"{text}\": {} flows: a count cannot be negative", &c[1]));
        }
        let Some(spec) = &spec else { continue };
        for re in PATH.iter() {
            if let Some(c) = re.captures(text)
                && !spec.paths().iter().any(|p| p.name == c[1])
            {
                let known: Vec<&str> = spec.paths().iter().map(|p| p.name.as_str()).collect();
                problem(format!(
                    "\"{text}\": flow {} has no path {:?} (paths: {})",
                    spec.name(),
                    &c[1],
                    known.join(", ")
                ));
            }
        }
        for re in STATE.iter() {
            let Some(c) = re.captures(text) else { continue };
            for state in c.iter().skip(1).flatten() {
                if spec.state_index(state.as_str()).is_none() {
                    let known: Vec<&str> = spec.states().iter().map(|s| s.name.as_str()).collect();
                    problem(format!(
                        "\"{text}\": flow {} has no state {:?} (states: {})",
                        spec.name(),
                        state.as_str(),
                        known.join(", ")
                    ));
                }
            }
        }
        if let Some(c) = MIX.captures(text)
            && let Err(e) = Mix::parse(spec, &c[1])
        {
            problem(format!("\"{text}\": {e}"));
        }
    }
}

/// Every problem with the arguments of `feature`'s steps.
pub fn check(feature: &Feature, file: &str) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let background: Vec<&Step> = feature.background.iter().flat_map(|b| &b.steps).collect();
    let mut scenarios: Vec<(Vec<&Step>, &Scenario)> =
        feature.scenarios.iter().map(|s| (background.clone(), s)).collect();
    for rule in &feature.rules {
        let mut steps = background.clone();
        steps.extend(rule.background.iter().flat_map(|b| &b.steps));
        scenarios.extend(rule.scenarios.iter().map(|s| (steps.clone(), s)));
    }
    for (mut steps, scenario) in scenarios {
        steps.extend(&scenario.steps);
        for run in expanded(&steps, scenario) {
            check_run(&run, file, &mut problems);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let feature =
            Feature::parse(text, cucumber::gherkin::GherkinEnv::default()).unwrap_or_else(|e| unreachable!("{e}"));
        check(&feature, "x.feature").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn bad_counts_paths_states_and_mixes_are_named_with_their_line() {
        let found = problems(
            "Feature: f\n  Background:\n    Given the \"account-migration\" flow\n  Scenario: s\n    When -3 happy flows are produced\n    And 2 sideways flows are produced\n    And a happy flow is produced with its Paused event dropped\n    And 5 flows are produced with the mix \"happy=1,nope=2\"\n    Then the topic \"t\" receives a message with a equal to \"b\" within 0 seconds\n",
        );
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(
            found[0].starts_with("x.feature:5: ") && found[0].contains("-3 flows"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("x.feature:6: ") && found[1].contains("no path \"sideways\""),
            "{found:#?}"
        );
        assert!(
            found[2].starts_with("x.feature:7: ") && found[2].contains("no state \"Paused\""),
            "{found:#?}"
        );
        assert!(
            found[3].starts_with("x.feature:8: ") && found[3].contains("nope"),
            "{found:#?}"
        );
        assert!(
            found[4].starts_with("x.feature:9: ") && found[4].contains("0 seconds"),
            "{found:#?}"
        );
    }

    #[test]
    fn outlines_are_checked_per_row_and_good_steps_pass() {
        let found = problems(
            "Feature: f\n  Scenario Outline: s\n    Given the \"account-migration\" flow\n    When <n> <path> flows are produced\n    Then <n> complete <path> flows are observed\n  Examples:\n    | n | path |\n    | 3 | happy |\n    | 2 | cancel |\n    | 1 | wrong |\n",
        );
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found.iter().all(|p| p.contains("no path \"wrong\"")), "{found:#?}");
    }
}

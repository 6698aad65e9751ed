//! A failure as a replay: the case as a fixture in the seed's format (the
//! flows involved, in the order they were sent) and a feature file that
//! produces it to the same consumer and checks the same table, failing the
//! same way while the consumer has the bug. Fixture paths in the feature
//! are relative to the feature file.

use std::path::{Path, PathBuf};

use super::Found;
use super::case::Case;
use super::expect::Expectations;
use super::trial::{Service, Setup};
use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::fixture_io::{Keyed, to_fixture_of};

/// The files of a saved replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub fixture: PathBuf,
    pub feature: PathBuf,
}

impl std::fmt::Display for Saved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "saved: {} and {}\nreplay it: flowharness test {}",
            self.fixture.display(),
            self.feature.display(),
            self.feature.display()
        )
    }
}

/// What the replay checks: the service and the table, as the hunt had them.
#[derive(Debug)]
pub struct ReplayOf<'a> {
    /// How the feature names the flow: a shipped flow's name or a spec path.
    pub flow: &'a str,
    pub spec: &'a FlowSpec,
    pub service: &'a Service,
    pub output: &'a str,
    pub expectations: &'a Expectations,
    pub timeout_seconds: u64,
    /// A line or two on where the case came from, as comments.
    pub origin: &'a str,
}

impl<'a> ReplayOf<'a> {
    /// What a hunt's trials checked, and where its failure came from.
    pub fn of_hunt(flow: &'a str, setup: &'a Setup<'a>, origin: &'a str) -> Self {
        ReplayOf {
            flow,
            spec: setup.spec,
            service: &setup.service,
            output: &setup.output,
            expectations: &setup.expectations,
            timeout_seconds: setup.timeout.as_secs(),
            origin,
        }
    }
}

/// Saves a hunt's smallest failing case as `{prefix}-seed-{seed}`, found
/// by `by` (`flowharness hunt`, a scenario).
pub fn save_found(dir: &Path, prefix: &str, flow: &str, setup: &Setup<'_>, found: &Found, by: &str) -> Result<Saved> {
    let origin = format!(
        "Saved by {by}: trial {} (seed {}) failed; this is its smallest failing case.",
        found.trial + 1,
        found.seed
    );
    save(
        dir,
        &format!("{prefix}-seed-{}", found.seed),
        &ReplayOf::of_hunt(flow, setup, &origin),
        found.case(),
        &format!("the smallest failing case of seed {}", found.seed),
    )
}

/// A flow named by a path that exists is written as an absolute path, so
/// the feature runs from any folder.
fn flow_ref(flow: &str) -> String {
    let path = Path::new(flow);
    if path.exists() {
        std::fs::canonicalize(path).map_or_else(|_| flow.to_string(), |p| p.display().to_string())
    } else {
        flow.to_string()
    }
}

/// `text` as one word for `sh`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The feature file's text for the fixture `fixture_name` beside it.
pub fn feature_text(of: &ReplayOf<'_>, fixture_name: &str, scenario: &str) -> String {
    let group = of.service.group.clone();
    // As the hunt ran it: from the same folder, with the group's name (in
    // terms of the scenario's topic) in the command and in its environment.
    let mut command = of.service.command.replace("{group}", group.as_deref().unwrap_or(""));
    if let Some(g) = &group {
        command = format!("FLOWHARNESS_GROUP={} {command}", shell_quoted(g));
    }
    if let Ok(dir) = std::env::current_dir() {
        command = format!("cd {} && {command}", shell_quoted(&dir.display().to_string()));
    }
    let mut out = String::new();
    for line in of.origin.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str("# It fails for as long as the consumer has the bug: run it with\n");
    out.push_str("#   flowharness test THIS_FILE\n");
    out.push_str(&format!(
        "Feature: Replay of a failing case of the {} flow\n\n",
        of.spec.name()
    ));
    out.push_str(&format!("  Scenario: {scenario}\n"));
    out.push_str(&format!("    Given the \"{}\" flow\n", quoted(&flow_ref(of.flow))));
    // A trial creates its own output topic; so does the replay.
    if of.output.contains("{topic}") {
        out.push_str(&format!("    And the topic \"{}\" exists\n", quoted(of.output)));
    }
    out.push_str(&format!("    When the command \"{}\" is started\n", quoted(&command)));
    out.push_str(&format!(
        "    And the fixture \"{}\" is produced\n",
        quoted(fixture_name)
    ));
    if let Some(g) = &group {
        out.push_str(&format!(
            "    Then the consumer group \"{}\" has caught up within {} seconds\n",
            quoted(g),
            of.timeout_seconds
        ));
        out.push_str("    And ");
    } else {
        out.push_str("    Then ");
    }
    out.push_str(&format!(
        "within {} seconds the topic \"{}\" shows each account's events as:\n",
        of.timeout_seconds,
        quoted(of.output)
    ));
    out.push_str(&of.expectations.to_gherkin("      "));
    out
}

/// Writes `{name}.fixture.json` and `{name}.feature` into `dir`.
pub fn save(dir: &Path, name: &str, of: &ReplayOf<'_>, case: &Case, scenario: &str) -> Result<Saved> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let fixture_name = format!("{name}.fixture.json");
    let fixture = dir.join(&fixture_name);
    to_fixture_of(of.spec, None, &case.messages).save(&fixture)?;
    let feature = dir.join(format!("{name}.feature"));
    std::fs::write(&feature, feature_text(of, &fixture_name, scenario)).map_err(|e| Error::io(&feature, e))?;
    Ok(Saved { fixture, feature })
}

/// Saves the flows of the keys with violations as a fixture, and a feature
/// that produces it and expects no violations, so it fails while the data
/// (or the producer that made it) breaks the contract: `verify
/// --save-failures`. `messages` are in the order they were read.
pub fn save_violations(
    dir: &Path,
    name: &str,
    flow: &str,
    spec: &FlowSpec,
    messages: &[Keyed],
    origin: &str,
) -> Result<Saved> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let fixture_name = format!("{name}.fixture.json");
    let fixture = dir.join(&fixture_name);
    to_fixture_of(spec, None, messages).save(&fixture)?;
    let mut text = String::new();
    for line in origin.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    text.push_str("# It fails for as long as these messages break the contract: run it with\n");
    text.push_str("#   flowharness test THIS_FILE\n");
    text.push_str(&format!(
        "Feature: Replay of contract violations of the {} flow\n\n",
        spec.name()
    ));
    text.push_str("  Scenario: the flows with violations\n");
    text.push_str(&format!("    Given the \"{}\" flow\n", quoted(&flow_ref(flow))));
    text.push_str(&format!(
        "    When the fixture \"{}\" is produced\n",
        quoted(&fixture_name)
    ));
    text.push_str("    Then no violations are reported\n");
    let feature = dir.join(format!("{name}.feature"));
    std::fs::write(&feature, text).map_err(|e| Error::io(&feature, e))?;
    Ok(Saved { fixture, feature })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_runs_the_command_from_the_same_folder_with_its_group() {
        let spec = crate::flow::shipped::shipped("account-migration")
            .expect("shipped")
            .expect("parses");
        let rows = vec![
            vec!["event".to_string(), "state".to_string()],
            vec!["Scheduled".to_string(), "SCHEDULED".to_string()],
        ];
        let expectations = Expectations::from_rows(&spec, &rows).expect("table");
        let service = Service {
            command: "./svc --group {group}".into(),
            group: Some("{topic}-svc's".into()),
        };
        let of = ReplayOf {
            flow: "account-migration",
            spec: &spec,
            service: &service,
            output: "{topic}-status",
            expectations: &expectations,
            timeout_seconds: 20,
            origin: "a test",
        };
        let text = feature_text(&of, "case.fixture.json", "a case");
        let here = std::env::current_dir().expect("cwd").display().to_string();
        let line = format!(
            "    When the command \"cd '{here}' && FLOWHARNESS_GROUP='{{topic}}-svc'\\\\''s' ./svc --group {{topic}}-svc's\" is started\n"
        );
        assert!(text.contains(&line), "{text}");
        assert!(text.contains("    And the topic \"{topic}-status\" exists\n"), "{text}");
        assert!(
            text.contains("    Then the consumer group \"{topic}-svc's\" has caught up within 20 seconds\n"),
            "{text}"
        );
    }
}

//! `flowharness test --save-failures DIR`: a failing scenario that
//! produced flows is saved as a replay, the messages of its last run as a
//! fixture and the scenario as a feature file whose producing steps are
//! replaced by producing that fixture, so it fails the same way. A hunt
//! saves its own smallest case instead, and a scenario tagged
//! `@expected-failure` is meant to fail and is not saved.

use std::collections::HashSet;

use cucumber::gherkin::{Feature, Rule, Scenario, Step};

use super::world::{Contract, FlowWorld, save_failures_dir};
use crate::error::Result;
use crate::flow::fixture_io::{Keyed, to_fixture_of};

fn step_text(step: &Step) -> String {
    let mut out = format!("    {} {}\n", step.keyword.trim(), step.value);
    if let Some(table) = &step.table {
        for row in &table.rows {
            out.push_str(&format!("      | {} |\n", row.join(" | ")));
        }
    }
    if let Some(doc) = &step.docstring {
        out.push_str(&format!("      \"\"\"\n{doc}\n      \"\"\"\n"));
    }
    out
}

/// A step that produces messages: its place takes the fixture instead.
fn produces(step: &Step) -> bool {
    step.value.contains(" produced") || step.value.contains(" is published")
}

/// Saves the failing scenario, where it produced flows of a flow contract;
/// returns the feature file written.
pub fn save(
    feature: &Feature,
    rule: Option<&Rule>,
    scenario: &Scenario,
    w: &FlowWorld,
) -> Result<Option<std::path::PathBuf>> {
    let tagged = feature
        .tags
        .iter()
        .chain(rule.into_iter().flat_map(|r| &r.tags))
        .chain(&scenario.tags)
        .any(|t| t.trim_start_matches('@') == super::expect_failure::TAG);
    let (Some(Contract::Flow(spec)), Some(run), None, false) = (&w.contract, &w.run, &w.hunt, tagged) else {
        return Ok(None);
    };
    // The accounts the findings name, else every account of the run.
    let named: HashSet<&str> = run.check.findings.iter().filter_map(|f| f.key.as_deref()).collect();
    let messages: Vec<Keyed> = run
        .observed
        .iter()
        .filter_map(|o| match (&o.key, &o.value) {
            (Some(key), Ok(value)) if named.is_empty() || named.contains(key.as_str()) => Some(Keyed {
                key: key.clone(),
                value: value.clone(),
                topic: None,
                headers: Vec::new(),
            }),
            _ => None,
        })
        .collect();
    if messages.is_empty() {
        return Ok(None);
    }
    let dir = save_failures_dir();
    std::fs::create_dir_all(&dir).map_err(|e| crate::error::Error::io(&dir, e))?;
    let name = format!("{}-{}", w.topic, scenario.position.line);
    let fixture_name = format!("{name}.fixture.json");
    to_fixture_of(spec, None, &messages).save(&dir.join(&fixture_name))?;
    let mut text = format!(
        "# Saved by flowharness test: the scenario \"{}\" of {} failed.\n",
        scenario.name,
        feature
            .path
            .as_ref()
            .map_or_else(|| feature.name.clone(), |p| p.display().to_string())
    );
    text.push_str(&format!(
        "# Its producing steps are replaced by the {} messages of its last run.\n",
        messages.len()
    ));
    text.push_str(&format!(
        "Feature: Replay of {}\n\n  Scenario: {}\n",
        feature.name, scenario.name
    ));
    let background = feature
        .background
        .iter()
        .chain(rule.and_then(|r| r.background.as_ref()))
        .flat_map(|b| &b.steps);
    let mut fixture_placed = false;
    for step in background.chain(&scenario.steps) {
        if produces(step) {
            if !fixture_placed {
                text.push_str(&format!("    When the fixture \"{fixture_name}\" is produced\n"));
                fixture_placed = true;
            }
            continue;
        }
        if step.value.starts_with("the \"")
            && step.value.ends_with("\" flow")
            && let Some(flow) = &w.flow_ref
        {
            text.push_str(&format!("    Given the \"{flow}\" flow\n"));
            continue;
        }
        text.push_str(&step_text(step));
    }
    let path = dir.join(format!("{name}.feature"));
    std::fs::write(&path, text).map_err(|e| crate::error::Error::io(&path, e))?;
    Ok(Some(path))
}

//! Before anything runs: parse every feature file, and check that every
//! step names a step of the library, once. A syntax error or an unknown
//! step is bad input (exit 2), reported with the file and line, and for
//! an unknown step the nearest known steps.

use std::path::{Path, PathBuf};

use cucumber::World as _;
use cucumber::gherkin::{Feature, Step};
use cucumber::parser::Parser as _;

use super::FlowWorld;
use super::catalogue::CATALOGUE;
use crate::error::{Diagnostic, Error, Result};

/// Parses the feature files at `paths` (files, or folders searched for
/// `*.feature`), with Scenario Outlines expanded.
pub fn parse(paths: &[PathBuf]) -> Result<Vec<Feature>> {
    let mut features = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let path = path.canonicalize().map_err(|e| Error::io(path, e))?;
        let parsed = cucumber::parser::Basic::new().parse(&path, cucumber::parser::basic::Cli::default());
        for feature in futures::executor::block_on_stream(parsed) {
            match feature {
                Ok(f) => features.push(f),
                Err(e) => problems.push(parse_problem(&e)),
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    Ok(features)
}

/// A parse error with its file and, for a syntax error, where and what
/// the parser expected.
fn parse_problem(e: &cucumber::parser::Error) -> Diagnostic {
    use cucumber::gherkin::ParseFileError;
    match e {
        cucumber::parser::Error::Parsing(file) => match file.as_ref() {
            ParseFileError::Parsing { path, source, .. } => {
                Diagnostic::new(format!("not valid Gherkin: {source}")).within(shown(path))
            }
            ParseFileError::Reading { path, source } => Diagnostic::new(source.to_string()).within(shown(path)),
        },
        other => Diagnostic::new(other.to_string()),
    }
}

/// Every step of a feature, with the steps of its backgrounds and rules.
fn steps_of(feature: &Feature) -> Vec<&Step> {
    let mut steps: Vec<&Step> = Vec::new();
    steps.extend(feature.background.iter().flat_map(|b| &b.steps));
    steps.extend(feature.scenarios.iter().flat_map(|s| &s.steps));
    for rule in &feature.rules {
        steps.extend(rule.background.iter().flat_map(|b| &b.steps));
        steps.extend(rule.scenarios.iter().flat_map(|s| &s.steps));
    }
    steps
}

/// Checks that every step matches exactly one step of the library, then
/// that its arguments fit the scenario's flow ([`super::arguments`]).
pub fn check_steps(features: &[Feature]) -> Result<()> {
    let collection = FlowWorld::collection();
    let mut problems = Vec::new();
    for feature in features {
        let file = feature.path.as_deref().map_or_else(|| feature.name.clone(), shown);
        // A scenario with no steps passes without testing anything: almost
        // always steps the parser took as description text (`Given` alone on
        // a line, a misspelt keyword).
        let scenarios = feature
            .scenarios
            .iter()
            .chain(feature.rules.iter().flat_map(|r| &r.scenarios));
        for scenario in scenarios {
            let background = feature.background.as_ref().is_some_and(|b| !b.steps.is_empty());
            if scenario.steps.is_empty() {
                let why = if background {
                    "it would run only the Background"
                } else {
                    "it would pass without testing anything"
                };
                let hint = match scenario.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                    Some(d) => format!(
                        "; its description reads {:?}: a misspelt or lone keyword turns steps into description",
                        d.lines().next().unwrap_or(d)
                    ),
                    None => String::new(),
                };
                problems.push(
                    Diagnostic::new(format!("scenario \"{}\" has no steps: {why}{hint}", scenario.name))
                        .within(format!("{file}:{}", scenario.position.line)),
                );
            }
        }
        for step in steps_of(feature) {
            let at = format!("{file}:{}", step.position.line);
            match collection.find(step) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let near = nearest(&step.value, 3);
                    let hint = if near.is_empty() {
                        "run `flowharness steps` for the catalogue".to_string()
                    } else {
                        format!("did you mean:\n    {}", near.join("\n    "))
                    };
                    problems.push(
                        Diagnostic::new(format!("unknown step \"{}{}\"; {hint}", step.keyword, step.value)).within(&at),
                    );
                }
                Err(ambiguous) => problems.push(
                    Diagnostic::new(format!(
                        "step \"{}{}\" matches more than one step: {ambiguous}",
                        step.keyword, step.value
                    ))
                    .within(&at),
                ),
            }
        }
    }
    if problems.is_empty() {
        for feature in features {
            let file = feature.path.as_deref().map_or_else(|| feature.name.clone(), shown);
            problems.extend(super::arguments::check(feature, &file));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

/// For each step text (`When 5 happy flows are produced`, a data table on
/// the lines below), where the one library step it runs is defined.
pub fn matched_steps<'a>(texts: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut feature = String::from("Feature: catalogue\n  Scenario: every step\n");
    for text in texts {
        for line in text.lines() {
            feature.push_str("    ");
            feature.push_str(line.trim());
            feature.push('\n');
        }
    }
    let parsed = Feature::parse(&feature, cucumber::gherkin::GherkinEnv::default())
        .map_err(|e| Error::Usage(format!("the catalogue does not parse: {e}")))?;
    let collection = FlowWorld::collection();
    steps_of(&parsed)
        .into_iter()
        .map(|step| match collection.find(step) {
            Ok(Some((_, _, Some(at), _))) => Ok(at.to_string()),
            Ok(_) => Err(Error::Usage(format!("no step runs \"{}{}\"", step.keyword, step.value))),
            Err(e) => Err(Error::Usage(format!("\"{}{}\": {e}", step.keyword, step.value))),
        })
        .collect()
}

/// A path as users gave it: relative to the current folder where it can be.
fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|d| path.strip_prefix(d).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The catalogue's steps nearest to `text`, best first, as examples.
pub fn nearest(text: &str, n: usize) -> Vec<String> {
    let text = text.to_lowercase();
    let mut scored: Vec<(f64, &str)> = CATALOGUE
        .iter()
        .map(|(keyword, pattern, example)| {
            let example = example.lines().next().unwrap_or(example);
            let example = example.strip_prefix(keyword).unwrap_or(example).trim();
            let score = strsim::normalized_levenshtein(&text, &example.to_lowercase())
                .max(strsim::normalized_levenshtein(&text, &pattern.to_lowercase()));
            (score, *pattern)
        })
        .filter(|(score, _)| *score >= 0.4)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(n).map(|(_, p)| p.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_typo_suggests_the_step_it_meant() {
        let near = nearest("5 hapy flows are producd", 3);
        assert_eq!(
            near.first().map(String::as_str),
            Some("{int} {word} flows are produced")
        );
        assert!(nearest("the moon is made of cheese and nothing else at all", 3).len() <= 3);
    }
}

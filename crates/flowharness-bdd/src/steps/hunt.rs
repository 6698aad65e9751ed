//! Hunting in a scenario: the service under test restarted for every
//! trial on a fresh topic and group, random flow sets until one breaks it,
//! the smallest failing case, and its replay saved.

use std::time::Duration;

use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::super::world::{FlowWorld, HuntRun, environment, off_thread, save_failures_dir, step_failed};
use crate::flow::FlowSpec;
use crate::flow::generator::Mix;
use crate::generate::hints::Hints;
use crate::hunt::replay;
use crate::hunt::{Case, Expectations, HuntOptions, Service, Setup, hunt, render};

/// Random trials a step runs, and trials it may spend shrinking.
const TRIALS: usize = 20;
const SHRINK_STEPS: usize = 60;

#[given(expr = "the service under test runs as {string} in the consumer group {string}")]
fn the_service_under_test(w: &mut FlowWorld, command: String, group: String) {
    w.service = Some(Service {
        command,
        group: Some(group),
    });
}

fn table(step: &Step) -> Vec<Vec<String>> {
    match step.table.as_ref() {
        Some(t) => t.rows.clone(),
        None => step_failed("this step needs a table: | event | field ... |"),
    }
}

/// A hunt's setup in the scenario: its service, its topic as the prefix
/// of trial topics, the table and the wait.
fn setup<'s>(
    w: &FlowWorld,
    spec: &'s FlowSpec,
    within: i64,
    output: &str,
    rows: &[Vec<String>],
    prefix: String,
) -> Setup<'s> {
    let expectations = Expectations::from_rows(spec, rows).unwrap_or_else(|e| step_failed(&e.to_string()));
    let service = w.service.clone().unwrap_or_else(|| {
        step_failed(
            "no service under test: start with Given the service under test runs as \"…\" in the consumer group \"…\"",
        )
    });
    let logs = std::env::temp_dir().join(format!("{prefix}-logs"));
    std::fs::create_dir_all(&logs).unwrap_or_else(|e| step_failed(&format!("{}: {e}", logs.display())));
    Setup {
        env: environment(),
        spec,
        service,
        output: output.to_string(),
        expectations,
        timeout: u64::try_from(within)
            .ok()
            .filter(|n| *n > 0)
            .map(Duration::from_secs)
            .unwrap_or_else(|| step_failed(&format!("{within} seconds: give a positive number"))),
        prefix,
        logs,
    }
}

/// Runs the hunt and saves a failure as a replay; the run lands in `w.hunt`.
async fn run_hunt(w: &mut FlowWorld, flows: i64, mix: String, within: i64, output: String, step: &Step) {
    let rows = table(step);
    let flows = super::count(flows);
    off_thread(w, move |w| {
        let spec = w.flow().clone();
        let setup = setup(w, &spec, within, &output, &rows, w.topic.clone());
        let mix = Mix::parse(&spec, &mix).unwrap_or_else(|e| step_failed(&e.to_string()));
        let options = HuntOptions {
            flows,
            mix,
            trials: TRIALS,
            max_shrink_steps: SHRINK_STEPS,
            seed: w.seed,
            confirm: 2,
            hints: std::sync::Arc::new(Hints::today()),
        };
        w.generated_with = Some(w.seed);
        crate::console::say(format!("hunting with seed {} (scenario \"{}\")", w.seed, w.scenario));
        let report = hunt(&setup, &options, &mut |line| crate::console::say(line))
            .unwrap_or_else(|e| step_failed(&e.to_string()));
        let saved = report.found.as_ref().map(|found| {
            let flow = w.flow_ref.clone().unwrap_or_else(|| spec.name().to_string());
            let by = format!("the hunt in the scenario \"{}\"", w.scenario);
            replay::save_found(&save_failures_dir(), &w.topic, &flow, &setup, found, &by)
                .unwrap_or_else(|e| step_failed(&e.to_string()))
        });
        crate::console::write(&render::render(&spec, &report));
        if let Some(s) = &saved {
            crate::console::say(format!("replay: flowharness test {}", s.feature.display()));
        }
        w.hunt = Some(HuntRun {
            report,
            saved,
            output,
            within,
            rows,
        });
    })
    .await;
}

fn hunted(w: &FlowWorld) -> &HuntRun {
    w.hunt
        .as_ref()
        .unwrap_or_else(|| step_failed("no hunt ran yet: When any N flows … are hunted …"))
}

#[when(
    expr = "any {int} flows with the mix {string} are hunted for a case where, within {int} seconds, the topic {string} does not show each account's events as:"
)]
async fn flows_are_hunted(w: &mut FlowWorld, flows: i64, mix: String, within: i64, output: String, step: &Step) {
    run_hunt(w, flows, mix, within, output, step).await;
}

#[then(
    expr = "for any {int} flows with the mix {string}, within {int} seconds the topic {string} shows each account's events as:"
)]
async fn for_any_flows(w: &mut FlowWorld, flows: i64, mix: String, within: i64, output: String, step: &Step) {
    run_hunt(w, flows, mix, within, output, step).await;
    let run = hunted(w);
    if run.report.found.is_some() {
        let spec = w.flow().clone();
        w.fail(&format!(
            "{}{}",
            render::render(&spec, &run.report),
            run.saved.as_ref().map_or_else(String::new, |s| format!(
                "replay: flowharness test {}",
                s.feature.display()
            ))
        ));
    }
}

#[then("the hunt finds no failing case")]
fn no_failing_case(w: &mut FlowWorld) {
    let run = hunted(w);
    if run.report.found.is_some() {
        let spec = w.flow().clone();
        w.fail(&render::render(&spec, &run.report));
    }
}

#[then(expr = "the hunt shrinks the failure to {int} account(s) and {int} flow(s)")]
fn shrinks_to(w: &mut FlowWorld, accounts: usize, flows: usize) {
    let run = hunted(w);
    let spec = w.flow().clone();
    let Some(found) = &run.report.found else {
        w.fail(&format!(
            "the hunt found no failing case in {} trials",
            run.report.trials
        ));
    };
    if found.shrunk.is_none() || found.flaky.is_some() {
        w.fail(&format!(
            "the failure was not shrunk:\n{}",
            render::render(&spec, &run.report)
        ));
    }
    let (a, f) = (found.case().keys().len(), found.case().flows(&spec));
    if (a, f) != (accounts, flows) {
        w.fail(&format!(
            "expected the smallest failing case to have {accounts} accounts and {flows} flows, it has {a} and {f}:\n{}",
            render::render(&spec, &run.report)
        ));
    }
}

#[then(expr = "the smallest failing case sends its accounts {string}")]
fn sends_its_accounts(w: &mut FlowWorld, order: String) {
    if order != "interleaved" && order != "one after another" {
        step_failed(&format!("{order:?}: say \"interleaved\" or \"one after another\""));
    }
    let run = hunted(w);
    let spec = w.flow().clone();
    let Some(found) = &run.report.found else {
        w.fail("the hunt found no failing case");
    };
    let interleaved = found.case().switches() >= found.case().keys().len();
    if interleaved != (order == "interleaved") {
        w.fail(&format!(
            "the smallest failing case does not send its accounts {order}:\n{}",
            render::render(&spec, &run.report)
        ));
    }
}

#[then("the saved replay fails the same way")]
async fn replay_fails_the_same_way(w: &mut FlowWorld) {
    off_thread(w, |w| {
        let run = hunted(w).clone();
        let (Some(found), Some(saved)) = (&run.report.found, &run.saved) else {
            step_failed("the hunt saved no replay: it found no failing case")
        };
        let Some(shrunk) = &found.shrunk else {
            step_failed("the failure was not shrunk")
        };
        let case = Case::new(
            crate::flow::fixture_io::keyed_messages(&saved.fixture, &|_| true)
                .unwrap_or_else(|e| step_failed(&e.to_string())),
        );
        if case.messages.len() != found.case().messages.len() || case.keys() != found.case().keys() {
            step_failed(&format!(
                "{}: the fixture does not hold the smallest case",
                saved.fixture.display()
            ));
        }
        let spec = w.flow().clone();
        let setup = setup(
            w,
            &spec,
            run.within,
            &run.output,
            &run.rows,
            format!("{}-replay", w.topic),
        );
        let outcome = setup.run(&case, 0).unwrap_or_else(|e| step_failed(&e.to_string()));
        if !outcome.same_failure(&shrunk.failure) {
            w.fail(&format!(
                "the replay of {} did not fail the same way:\nthe hunt saw\n{}\nthe replay saw\n{}",
                saved.feature.display(),
                shrunk.failure.describe(10),
                if outcome.failed() {
                    outcome.describe(10)
                } else {
                    "  (it passed)".into()
                }
            ));
        }
    })
    .await;
}

//! Hunting: random flow sets against a live consumer until one breaks it,
//! then the smallest case that still does, found against the consumer
//! itself, and saved as a replay (a fixture and a feature file).
//!
//! [`expect`] is the expectation table, [`case`] the messages of a trial
//! and the edits that keep them within the flow contract, [`shrink`] the
//! search for a smaller failing case, [`trial`] one run against the
//! consumer, and [`replay`] the saved files.

pub mod case;
pub mod expect;
pub mod render;
pub mod replay;
pub mod shrink;
pub mod trial;

use crate::num::Cast as _;
use std::sync::Arc;

use crate::error::Result;
use crate::flow::generator::{FlowGenerator, FlowOptions, FlowSetShape, Mix, StreamShape};
use crate::generate::hints::Hints;

pub use case::Case;
pub use expect::Expectations;
pub use trial::{Outcome, Service, Setup};

/// How a hunt goes.
#[derive(Debug, Clone)]
pub struct HuntOptions {
    /// Flows per trial.
    pub flows: usize,
    pub mix: Mix,
    /// Random trials before giving up.
    pub trials: usize,
    /// Trials spent on shrinking, at most.
    pub max_shrink_steps: usize,
    /// Trial `i` is generated from `seed + i`.
    pub seed: u64,
    /// Runs of the first failing case, to tell a flaky consumer from a
    /// broken one (2: it must fail twice).
    pub confirm: usize,
    pub hints: Arc<Hints>,
}

/// A failure and what became of it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The trial that failed first (0-based) and the seed it was made from.
    pub trial: usize,
    pub seed: u64,
    /// The failing trial's case, as generated.
    pub original: Case,
    pub first: Outcome,
    /// Runs of the failing case and how many of them failed, when not all
    /// did: the consumer is flaky on this input and was not shrunk.
    pub flaky: Option<(usize, usize)>,
    /// The smallest failing case, when shrinking ran.
    pub shrunk: Option<shrink::Shrunk<Outcome>>,
}

impl Found {
    /// The case as it stands: the shrunk one, or the original.
    pub fn case(&self) -> &Case {
        self.shrunk.as_ref().map_or(&self.original, |s| &s.case)
    }
}

/// What a hunt did.
#[derive(Debug, Clone, Default)]
pub struct HuntReport {
    /// Random trials run (the failing one included).
    pub trials: usize,
    /// Seconds of every trial run, shrink steps included.
    pub trial_seconds: Vec<f64>,
    pub found: Option<Found>,
}

impl HuntReport {
    /// Median seconds per trial.
    pub fn median_trial_seconds(&self) -> f64 {
        let mut s = self.trial_seconds.clone();
        s.sort_by(f64::total_cmp);
        s.get(s.len() / 2).copied().unwrap_or(0.0)
    }
}

/// One stream of `path` (its `alternative`), as the shrinker's simpler
/// path: the generator's own values, so the flow obeys the contract.
pub fn one_flow(
    generator: &FlowGenerator<'_>,
    path: usize,
    alternative: u32,
) -> Result<Vec<crate::flow::fixture_io::Keyed>> {
    generator.materialize(&FlowSetShape {
        streams: vec![StreamShape { path, alternative }],
        interleave: Vec::new(),
        values_seed: 0,
    })
}

/// Progress of a hunt, for the caller to print.
pub type Progress<'a> = dyn FnMut(&str) + 'a;

/// Runs the hunt: up to `options.trials` random trials; on the first that
/// fails, re-runs it to tell a flaky consumer, then shrinks it.
pub fn hunt(setup: &Setup<'_>, options: &HuntOptions, progress: &mut Progress<'_>) -> Result<HuntReport> {
    let spec = setup.spec;
    let generator = FlowGenerator::new(
        spec,
        FlowOptions {
            flows: options.flows,
            mix: options.mix.clone(),
            hints: options.hints.clone(),
            jitter: 0.5,
            time_scale: 1.0,
        },
    )?;
    let mut report = HuntReport::default();
    let mut n = 0usize;
    for t in 0..options.trials {
        let seed = options.seed.wrapping_add(t.sat_u64());
        let case = Case::new(generator.generate(seed)?);
        let outcome = setup.run(&case, n)?;
        n += 1;
        report.trials += 1;
        report.trial_seconds.push(outcome.seconds);
        progress(&format!(
            "trial {}/{}: seed {seed}, {} flows, {} messages: {} ({:.1}s){}",
            t + 1,
            options.trials,
            case.flows(spec),
            case.messages.len(),
            if outcome.failed() { "FAILED" } else { "passed" },
            outcome.seconds,
            if outcome.failed() {
                format!("\n{}", outcome.describe(5))
            } else {
                String::new()
            }
        ));
        if !outcome.failed() {
            continue;
        }
        // The same input again: a consumer that passes it now is flaky.
        let mut failures = 1;
        for _ in 1..options.confirm.max(1) {
            let again = setup.run(&case, n)?;
            n += 1;
            report.trial_seconds.push(again.seconds);
            failures += usize::from(again.failed());
        }
        let runs = options.confirm.max(1);
        if failures < runs {
            progress(&format!(
                "flaky: the same input failed {failures} of {runs} runs; not shrinking"
            ));
            report.found = Some(Found {
                trial: t,
                seed,
                original: case,
                first: outcome,
                flaky: Some((runs, failures)),
                shrunk: None,
            });
            return Ok(report);
        }
        progress("shrinking against the consumer…");
        let mut seconds = Vec::new();
        let make = |path: usize, alternative: u32| one_flow(&generator, path, alternative);
        let shrunk = shrink::shrink(
            spec,
            case.clone(),
            outcome.clone(),
            options.max_shrink_steps,
            Some(&make),
            &mut |candidate| {
                let o = setup.run(candidate, n)?;
                n += 1;
                seconds.push(o.seconds);
                progress(&format!(
                    "  step: {} flows, {} messages: {} ({:.1}s)",
                    candidate.flows(spec),
                    candidate.messages.len(),
                    if o.failed() { "fails" } else { "passes" },
                    o.seconds
                ));
                Ok(o.failed().then_some(o))
            },
        )?;
        report.trial_seconds.extend(seconds);
        // The smallest case once more: a consumer that passes it is flaky.
        let last = setup.run(&shrunk.case, n)?;
        report.trial_seconds.push(last.seconds);
        let flaky = (!last.failed()).then_some((2, 1));
        report.found = Some(Found {
            trial: t,
            seed,
            original: case,
            first: outcome,
            flaky,
            shrunk: Some(shrunk),
        });
        return Ok(report);
    }
    Ok(report)
}

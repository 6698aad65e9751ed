//! A hunt's outcome as text: the smallest failing case (its messages in
//! the order sent, and expected against observed), the seed that replays
//! the original, and what shrinking took.

use super::case::flow_id;
use super::expect::state_of;
use super::{Found, HuntReport};
use crate::flow::FlowSpec;

fn short(id: &str) -> String {
    if id.chars().count() > 12 {
        format!("{}…", id.chars().take(12).collect::<String>())
    } else {
        id.to_string()
    }
}

/// The case's messages, one line each: number, key, state, flow id.
pub fn sent(spec: &FlowSpec, found: &Found) -> String {
    let case = found.case();
    let width = case.keys().iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let states = spec.states().iter().map(|s| s.name.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (i, m) in case.messages.iter().enumerate() {
        let state = state_of(spec, m).map_or("?", |s| spec.states()[s].name.as_str());
        out.push_str(&format!(
            "  {:>3}. {:<width$}  {:<states$}  flow {}\n",
            i + 1,
            m.key,
            state,
            short(&flow_id(spec, m))
        ));
    }
    out
}

/// The whole report.
pub fn render(spec: &FlowSpec, report: &HuntReport) -> String {
    let per_trial = report.median_trial_seconds();
    let Some(found) = &report.found else {
        return format!(
            "no failure in {} trials ({:.1}s per trial, median)\n",
            report.trials, per_trial
        );
    };
    let o = &found.original;
    let (flows, accounts, messages) = (o.flows(spec), o.keys().len(), o.messages.len());
    let mut out = format!(
        "FAILED on trial {} (seed {}): {flows} flows, {accounts} accounts, {messages} messages\n",
        found.trial + 1,
        found.seed
    );
    if let Some((runs, failed)) = found.flaky
        && found.shrunk.is_none()
    {
        out.push_str(&format!(
            "FLAKY: the same input failed {failed} of {runs} runs, so it was not shrunk\n{}\n",
            found.first.describe(10)
        ));
    }
    if let Some(s) = &found.shrunk {
        let c = found.case();
        out.push_str(&format!(
            "shrunk in {} steps, {} of them smaller failing cases{}, to {} flow{}, {} account{}, {} message{}:\n",
            s.steps,
            s.accepted,
            if s.exhausted { "; the step budget ran out" } else { "" },
            c.flows(spec),
            if c.flows(spec) == 1 { "" } else { "s" },
            c.keys().len(),
            if c.keys().len() == 1 { "" } else { "s" },
            c.messages.len(),
            if c.messages.len() == 1 { "" } else { "s" },
        ));
        out.push_str(&sent(spec, found));
        out.push_str(&format!("expected against observed:\n{}\n", s.failure.describe(10)));
        if found.flaky.is_some() {
            out.push_str("FLAKY: the smallest case passed when run once more\n");
        }
    }
    out.push_str(&format!(
        "replay the original: --seed {} --trials 1\n{} trials run, {:.1}s per trial (median)\n",
        found.seed,
        report.trial_seconds.len(),
        per_trial
    ));
    out
}

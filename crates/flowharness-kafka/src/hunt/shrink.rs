//! Shrinking a failing case against a live consumer. Every candidate costs
//! a trial (a fresh topic, group and consumer process), so the shrinker is
//! greedy and coarse first, in the manner of delta debugging rather than
//! proptest's element-by-element shrinking of the generator's choices:
//!
//! 1. drop streams (accounts): halves, then quarters, … then one at a time;
//! 2. drop whole flows of a stream (the flow before a restart, or the restart);
//! 3. drop events of a stream, the same way as streams;
//! 4. undo interleaving: all streams one after another, else one stream
//!    gathered at a time.
//!
//! An edit is tried only when the flow contract still holds for what is
//! left ([`Case::obeys`]), so those checks cost no trial. The passes repeat
//! until none finds a smaller failing case or the step budget is spent.

use crate::num::Cast as _;
use std::collections::HashSet;

use super::case::{Case, flow_id};
use crate::error::Result;
use crate::flow::FlowSpec;
use crate::flow::fixture_io::Keyed;

/// The smallest failing case found, and what it cost.
#[derive(Debug, Clone)]
pub struct Shrunk<F> {
    pub case: Case,
    pub failure: F,
    /// Trials run while shrinking.
    pub steps: usize,
    /// Of those, how many found a smaller failing case.
    pub accepted: usize,
    /// The step budget ran out before no edit was left to try.
    pub exhausted: bool,
}

/// Runs one candidate: `Some(failure)` when the consumer fails on it.
pub type Trial<'a, F> = dyn FnMut(&Case) -> Result<Option<F>> + 'a;

/// Makes one flow of a path (by index, with one of its alternatives), for
/// trying a simpler path in place of a flow; the restart it may bring is
/// left out by the shrinker.
pub type MakeFlow<'a> = dyn Fn(usize, u32) -> Result<Vec<Keyed>> + 'a;

struct Shrinker<'a, 't, F> {
    spec: &'a FlowSpec,
    best: Case,
    failure: F,
    steps: usize,
    accepted: usize,
    max_steps: usize,
    tried: HashSet<u64>,
    trial: &'a mut Trial<'t, F>,
    make: Option<&'a MakeFlow<'t>>,
}

fn fingerprint(case: &Case) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in &case.messages {
        m.key.hash(&mut h);
        m.value.to_string().hash(&mut h);
    }
    h.finish()
}

impl<F> Shrinker<'_, '_, F> {
    fn out_of_steps(&self) -> bool {
        self.steps >= self.max_steps
    }

    /// Tries a candidate: true when it still fails (and is now the best).
    fn attempt(&mut self, candidate: Case) -> Result<bool> {
        if candidate.messages.is_empty()
            || candidate == self.best
            || self.out_of_steps()
            || !self.tried.insert(fingerprint(&candidate))
            || !candidate.obeys(self.spec)
        {
            return Ok(false);
        }
        self.steps += 1;
        match (self.trial)(&candidate)? {
            Some(failure) => {
                self.best = candidate;
                self.failure = failure;
                self.accepted += 1;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Drops chunks of `units` (halves first), where `without(case, chunk)`
    /// makes the candidate and `units(case)` lists what is left to drop.
    fn drop_chunks(
        &mut self,
        units: &dyn Fn(&Case) -> Vec<usize>,
        without: &dyn Fn(&Case, &[usize]) -> Case,
    ) -> Result<bool> {
        let mut progress = false;
        let mut chunk = (units(&self.best).len() / 2).max(1);
        loop {
            let mut start = 0;
            loop {
                let all = units(&self.best);
                if start >= all.len() || self.out_of_steps() {
                    break;
                }
                let end = (start + chunk).min(all.len());
                let candidate = without(&self.best, &all[start..end]);
                if self.attempt(candidate)? {
                    progress = true;
                } else {
                    start = end;
                }
            }
            if chunk == 1 || self.out_of_steps() {
                return Ok(progress);
            }
            chunk /= 2;
        }
    }

    fn drop_streams(&mut self) -> Result<bool> {
        self.drop_chunks(&|c| (0..c.keys().len()).collect(), &|c, chunk| {
            let keys = c.keys();
            let gone: Vec<&str> = chunk.iter().map(|i| keys[*i]).collect();
            c.without_keys(&gone)
        })
    }

    /// Drops whole flows of keys with more than one (the flow before a
    /// restart, or the restart).
    fn drop_flows(&mut self) -> Result<bool> {
        let mut progress = false;
        let mut f = 0;
        loop {
            let flows = self.best.flow_positions(self.spec);
            let Some(positions) = flows.get(f) else { break };
            let key = &self.best.messages[positions[0]].key;
            let of_key = flows.iter().filter(|p| self.best.messages[p[0]].key == *key).count();
            let candidate = self.best.without(positions);
            if of_key > 1 && self.attempt(candidate)? {
                progress = true;
            } else {
                f += 1;
            }
        }
        Ok(progress)
    }

    /// Each flow in turn replaced by a flow of a shorter path (a cancel
    /// straight after scheduling in place of a completed migration, say),
    /// under the same key, where the flow's own messages were.
    fn simpler_paths(&mut self) -> Result<bool> {
        let Some(make) = self.make else { return Ok(false) };
        let spec = self.spec;
        let mut shorter: Vec<(usize, usize, u32)> = spec
            .paths()
            .iter()
            .enumerate()
            .flat_map(|(p, path)| {
                path.alternatives
                    .iter()
                    .enumerate()
                    .map(move |(a, states)| (states.len(), p, a.sat_u32()))
            })
            .collect();
        shorter.sort_unstable();
        let mut progress = false;
        let mut f = 0;
        loop {
            let flows = self.best.flow_positions(spec);
            let Some(positions) = flows.get(f) else { break };
            let positions = positions.clone();
            f += 1;
            for (len, p, a) in &shorter {
                if *len >= positions.len() || self.out_of_steps() {
                    break;
                }
                let made = make(*p, *a)?;
                let Some(first) = made.first() else { continue };
                let id = flow_id(spec, first);
                let key = self.best.messages[positions[0]].key.clone();
                let mut fresh: Vec<Keyed> = made.into_iter().filter(|m| flow_id(spec, m) == id).collect();
                for m in &mut fresh {
                    m.key.clone_from(&key);
                    if let Some(state) = super::expect::state_of(spec, m) {
                        spec.key()
                            .set(&mut m.value, state, serde_json::Value::String(key.clone()));
                    }
                }
                let mut messages: Vec<Option<Keyed>> = self.best.messages.iter().cloned().map(Some).collect();
                for (i, at) in positions.iter().enumerate() {
                    messages[*at] = fresh.get(i).cloned();
                }
                let candidate = Case::new(messages.into_iter().flatten().collect());
                if self.attempt(candidate)? {
                    progress = true;
                    break;
                }
            }
        }
        Ok(progress)
    }

    fn drop_events(&mut self) -> Result<bool> {
        let mut progress = false;
        let keys: Vec<String> = self.best.keys().into_iter().map(str::to_string).collect();
        for key in keys {
            let k = key.clone();
            progress |= self.drop_chunks(&move |c| c.of_key(&k), &|c, chunk| c.without(chunk))?;
        }
        Ok(progress)
    }

    fn untangle(&mut self) -> Result<bool> {
        let streams = self.best.keys().len();
        if self.best.switches() < streams {
            return Ok(false);
        }
        if self.attempt(self.best.sequential())? {
            return Ok(true);
        }
        let mut progress = false;
        let keys: Vec<String> = self.best.keys().into_iter().map(str::to_string).collect();
        for key in keys {
            let before = self.best.switches();
            let candidate = self.best.gathered(&key);
            if candidate.switches() < before {
                progress |= self.attempt(candidate)?;
            }
        }
        Ok(progress)
    }
}

/// Shrinks `case`, which failed with `failure`, as far as `max_steps`
/// trials allow; `make`, when given, lets it try simpler paths.
pub fn shrink<F>(
    spec: &FlowSpec,
    case: Case,
    failure: F,
    max_steps: usize,
    make: Option<&MakeFlow<'_>>,
    trial: &mut Trial<'_, F>,
) -> Result<Shrunk<F>> {
    let mut s = Shrinker {
        spec,
        best: case,
        failure,
        steps: 0,
        accepted: 0,
        max_steps,
        tried: HashSet::new(),
        trial,
        make,
    };
    loop {
        let mut progress = s.drop_streams()?;
        progress |= s.drop_flows()?;
        progress |= s.simpler_paths()?;
        progress |= s.drop_events()?;
        progress |= s.untangle()?;
        if !progress || s.out_of_steps() {
            break;
        }
    }
    let exhausted = s.out_of_steps();
    Ok(Shrunk {
        case: s.best,
        failure: s.failure,
        steps: s.steps,
        accepted: s.accepted,
        exhausted,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
    use crate::generate::hints::Hints;
    use crate::hunt::expect::state_of;

    fn spec() -> FlowSpec {
        crate::flow::shipped::shipped("account-migration")
            .expect("shipped")
            .expect("parses")
    }

    fn generator(spec: &FlowSpec, flows: usize) -> FlowGenerator<'_> {
        let options = FlowOptions {
            flows,
            mix: Mix::parse(spec, "happy=1,cancel=1,rollback=1").expect("mix"),
            hints: Arc::new(Hints::builtin(1_790_000_000_000)),
            jitter: 0.5,
            time_scale: 1.0,
        };
        FlowGenerator::new(spec, options).expect("generator")
    }

    fn case(spec: &FlowSpec, flows: usize, seed: u64) -> Case {
        Case::new(generator(spec, flows).generate(seed).expect("flows"))
    }

    fn states<'s>(spec: &'s FlowSpec, c: &Case) -> Vec<(&'s str, String, String)> {
        c.messages
            .iter()
            .map(|m| {
                let s = state_of(spec, m).map_or("?", |s| spec.states()[s].name.as_str());
                (s, m.key.clone(), flow_id(spec, m))
            })
            .collect()
    }

    /// A consumer that drops every RolledBack event.
    fn rollback_ignored(spec: &FlowSpec, c: &Case) -> Option<String> {
        states(spec, c)
            .iter()
            .any(|(s, _, _)| *s == "RolledBack")
            .then(|| "rolled back".into())
    }

    /// A consumer that keeps an account's first flow id.
    fn stale_flow_id(spec: &FlowSpec, c: &Case) -> Option<String> {
        let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for (s, key, id) in states(spec, c) {
            if s == "Scheduled" && first.get(&key).is_some_and(|f| *f != id) {
                return Some(format!("{key} kept its old flow id"));
            }
            first.entry(key).or_insert(id);
        }
        None
    }

    /// The reference service's crossed-accounts bug: a BalanceRetrieved
    /// filed under the account of the last Scheduled read.
    fn crossed_accounts(spec: &FlowSpec, c: &Case) -> Option<String> {
        let mut last: Option<String> = None;
        for (s, key, _) in states(spec, c) {
            match s {
                "Scheduled" => last = Some(key),
                "BalanceRetrieved" if last.as_ref().is_some_and(|l| *l != key) => {
                    return Some(format!("{key}'s balance filed under another account"));
                }
                _ => {}
            }
        }
        None
    }

    fn shrunk(spec: &FlowSpec, c: Case, bug: fn(&FlowSpec, &Case) -> Option<String>) -> Shrunk<String> {
        let failure = bug(spec, &c).expect("the case fails");
        let generator = generator(spec, 1);
        let make = |p: usize, a: u32| crate::hunt::one_flow(&generator, p, a);
        shrink(spec, c, failure, 500, Some(&make), &mut |candidate| {
            Ok(bug(spec, candidate))
        })
        .expect("shrinks")
    }

    #[test]
    fn a_passing_edit_is_never_kept_and_every_kept_case_obeys_the_contract() {
        let spec = spec();
        let c = case(&spec, 30, 7);
        let s = shrunk(&spec, c, rollback_ignored);
        assert!(s.case.obeys(&spec));
        assert!(rollback_ignored(&spec, &s.case).is_some());
        assert!(s.steps > 0 && s.accepted > 0 && !s.exhausted);
    }

    #[test]
    fn the_step_budget_bounds_the_trials() {
        let spec = spec();
        let c = case(&spec, 30, 11);
        let failure = rollback_ignored(&spec, &c).expect("fails");
        let mut trials = 0;
        let s = shrink(&spec, c, failure, 3, None, &mut |candidate| {
            trials += 1;
            Ok(rollback_ignored(&spec, candidate))
        })
        .expect("shrinks");
        assert_eq!(trials, 3);
        assert!(s.exhausted);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        #[test]
        fn a_dropped_rollback_shrinks_to_one_rollback_flow(seed in any::<u64>()) {
            let spec = spec();
            let c = case(&spec, 24, seed);
            prop_assume!(rollback_ignored(&spec, &c).is_some());
            let s = shrunk(&spec, c, rollback_ignored);
            let names: Vec<&str> = states(&spec, &s.case).iter().map(|(s, _, _)| *s).collect();
            prop_assert_eq!(
                names,
                vec!["Scheduled", "BalanceRetrieved", "Validated", "Completed", "RollBackInitiated", "RolledBack"]
            );
        }

        #[test]
        fn a_stale_flow_id_shrinks_to_a_cancel_and_its_restart(seed in any::<u64>()) {
            let spec = spec();
            let c = case(&spec, 24, seed);
            prop_assume!(stale_flow_id(&spec, &c).is_some());
            let s = shrunk(&spec, c, stale_flow_id);
            let names: Vec<&str> = states(&spec, &s.case).iter().map(|(s, _, _)| *s).collect();
            prop_assert_eq!(names, vec!["Scheduled", "Cancelled", "Scheduled"]);
            prop_assert_eq!(s.case.keys().len(), 1);
            prop_assert_eq!(s.case.flows(&spec), 2);
        }

        #[test]
        fn crossed_accounts_shrink_to_two_interleaved_accounts(seed in any::<u64>()) {
            let spec = spec();
            let c = case(&spec, 24, seed);
            prop_assume!(crossed_accounts(&spec, &c).is_some());
            let s = shrunk(&spec, c, crossed_accounts);
            let names: Vec<&str> = states(&spec, &s.case).iter().map(|(s, _, _)| *s).collect();
            prop_assert_eq!(names, vec!["Scheduled", "Scheduled", "BalanceRetrieved"]);
            prop_assert_eq!(s.case.keys().len(), 2);
            prop_assert!(s.case.switches() >= 2);
        }
    }
}

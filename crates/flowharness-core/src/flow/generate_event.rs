//! Binding one event of a stream: a fresh value of its state, then the
//! stream's key, the flow's id (unused by any other flow), its invariants,
//! its references to earlier flows, and its time by the timing rules.

use crate::num::Cast as _;
use rustc_hash::FxHashSet;

use proptest::strategy::{BoxedStrategy, Strategy as _, ValueTree};
use rand::{Rng as _, RngExt};
use serde_json::Value;

use super::fields::{fingerprint, text};
use super::generate_values::copy_ids;
use super::generator::FlowOptions;
use super::spec::{FlowSpec, TimeRule};
use super::timing::{StateTiming, Window};
use crate::error::{Error, Result};
use crate::generate::avro_sampler::Sampler;
use crate::generate::fakes::Rng;
use crate::generate::sample::seeded_runner;

pub(super) struct FlowCtx {
    pub(super) ids: Vec<Value>,
    pub(super) invariants: Vec<Option<Value>>,
    pub(super) t0: Option<i64>,
    pub(super) first: Option<i64>,
    pub(super) last: Option<i64>,
}

pub(super) struct Stream {
    pub(super) key: Option<String>,
    pub(super) key_value: Option<Value>,
    /// (state, flow number within the stream)
    pub(super) events: Vec<(usize, usize)>,
    pub(super) next: usize,
    pub(super) flows: Vec<Option<FlowCtx>>,
}

/// What generating one event needs besides the stream.
pub(super) struct EventCtx<'a> {
    pub(super) spec: &'a FlowSpec,
    pub(super) options: &'a FlowOptions,
    pub(super) rng: &'a mut Rng,
    pub(super) used_keys: &'a mut FxHashSet<u64>,
    pub(super) used_ids: &'a mut FxHashSet<u64>,
    pub(super) published: &'a [Vec<String>],
    /// Per state, values to copy instead of drawing.
    pub(super) templates: Option<&'a super::templates::Templates>,
    /// Values handed back, to draw over instead of making new ones.
    pub(super) spare: &'a mut super::spare::Spare,
}

/// Where a state's values are drawn from: its strategy, or its direct
/// sampler where it has one (the same choices, no value tree).
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub(super) strategy: &'a BoxedStrategy<Value>,
    pub(super) sampler: Option<&'a Sampler>,
}

impl EventCtx<'_> {
    fn draw(&mut self, source: Source<'_>, state: usize) -> Result<Value> {
        if let Some(value) = self.templates.and_then(|t| t.draw(self.spec, state, self.rng)) {
            return Ok(value);
        }
        if let Some(sampler) = source.sampler {
            return Ok(match self.spare.take(state) {
                Some(mut value) => {
                    sampler.sample_into(self.rng, &mut value);
                    value
                }
                None => sampler.sample(self.rng),
            });
        }
        let mut runner = seeded_runner(self.rng.next_u64());
        source
            .strategy
            .new_tree(&mut runner)
            .map(|t| t.current())
            .map_err(|e| Error::Usage(format!("generating {}: {e}", self.spec.states[state].name)))
    }

    /// A value of `state`; with a donor, its key and flow id come from a
    /// value of the donor state (whose ids every state's schema accepts).
    fn fresh(&mut self, source: Source<'_>, state: usize, donor: Option<(usize, Source<'_>)>) -> Result<Value> {
        let mut value = self.draw(source, state)?;
        if let Some((d, donor_source)) = donor {
            let given = self.draw(donor_source, d)?;
            copy_ids(self.spec, &given, d, &mut value, state);
            self.spare.put(d, given);
        }
        Ok(value)
    }

    pub(super) fn event(
        &mut self,
        source: Source<'_>,
        state: usize,
        stream: &mut Stream,
        flow_no: usize,
        donor: Option<(usize, Source<'_>)>,
    ) -> Result<Value> {
        let spec = self.spec;
        let starts = stream.key.is_none() || stream.flows[flow_no].is_none();
        let donor = donor.filter(|_| starts);
        let mut value = self.fresh(source, state, donor)?;
        // A new stream takes a key no other stream has; a new flow an unused id.
        if stream.key.is_none() {
            for _ in 0..50 {
                let key = spec.key_of(&value, state).unwrap_or_default();
                if self.used_keys.insert(fingerprint(&key)) {
                    stream.key_value = spec.key.get(&value, state).cloned();
                    stream.key = Some(key);
                    break;
                }
                value = self.fresh(source, state, donor)?;
            }
        }
        if stream.flows[flow_no].is_none() {
            let previous = stream.flows.iter().flatten().last().map(|f| (f.t0, f.last));
            let mut ids = Vec::new();
            for _ in 0..50 {
                ids = spec
                    .flow_id
                    .iter()
                    .map(|f| f.get(&value, state).cloned().unwrap_or(Value::Null))
                    .collect();
                let joined = ids.iter().map(text).collect::<Vec<_>>().join("/");
                if self.used_ids.insert(fingerprint(&joined)) {
                    break;
                }
                value = self.fresh(source, state, donor)?;
            }
            let timing = spec.timing.as_ref();
            let drawn_t0 = timing
                .and_then(|t| t.anchor.as_ref())
                .and_then(|a| a.read(&value, state));
            // A restart is scheduled again some days after the flow it replaces.
            let days = |rng: &mut Rng| rng.random_range(3..15) * 86_400_000;
            let (t0, first) = match previous {
                Some((Some(prev_t0), _)) => (Some(prev_t0 + days(self.rng)), None),
                Some((None, Some(prev_last))) => (None, Some(prev_last + days(self.rng))),
                _ => (drawn_t0, None),
            };
            // A restart without T0 comes after the flow it replaces.
            stream.flows[flow_no] = Some(FlowCtx {
                ids,
                invariants: vec![None; spec.invariants.len()],
                t0,
                first: None,
                last: first,
            });
        }
        let Some(flow) = stream.flows[flow_no].as_mut() else {
            return Ok(value);
        };
        if let Some(k) = &stream.key_value {
            spec.key.set_from(&mut value, state, k);
        }
        for (field, id) in spec.flow_id.iter().zip(&flow.ids) {
            field.set_from(&mut value, state, id);
        }
        for (i, field) in spec.invariants.iter().enumerate() {
            if field.get(&value, state).is_none() {
                continue;
            }
            match &flow.invariants[i] {
                Some(v) => {
                    field.set_from(&mut value, state, v);
                }
                None => flow.invariants[i] = field.get(&value, state).cloned(),
            }
        }
        if let Some(timing) = &spec.timing {
            if let (Some(anchor), Some(t0)) = (&timing.anchor, flow.t0) {
                anchor.write(&mut value, state, t0);
            }
            let st = timing.states[state].as_ref();
            let drawn = timing.event_time(&value, state).unwrap_or(self.options.hints.now_ms);
            let t = event_time(st, flow, drawn, self.options, self.rng);
            flow.first.get_or_insert(t);
            flow.last = Some(t);
            if let Some(st) = st {
                st.time.write(&mut value, state, t);
            }
            for field in &timing.monotonic {
                if field.field.get(&value, state).is_some() {
                    field.write(&mut value, state, t);
                }
            }
        }
        for (r, reference) in spec.references.iter().enumerate() {
            let published = &self.published[r];
            if reference.state == state && !published.is_empty() {
                let n = self.rng.random_range(1..=published.len().min(3));
                let mut picked: Vec<String> = Vec::with_capacity(n);
                while picked.len() < n {
                    let code = &published[self.rng.random_range(0..published.len())];
                    if !picked.contains(code) {
                        picked.push(code.clone());
                    }
                }
                let list = Value::Array(picked.into_iter().map(Value::String).collect());
                if let Some(path) = reference.field.at(state) {
                    let whole = path.text().trim_end_matches("[]");
                    if let Ok(p) = spec.resolve(state, whole) {
                        p.set(&mut value, list);
                    }
                }
            }
        }
        Ok(value)
    }
}

/// When an event happens: inside its anchor rule's window, inside its
/// windows after the previous and the first event, never before the
/// flow's previous event.
fn event_time(st: Option<&StateTiming>, flow: &FlowCtx, drawn: i64, options: &FlowOptions, rng: &mut Rng) -> i64 {
    let scale = options.time_scale.max(f64::MIN_POSITIVE);
    let scaled = |ms: i64| ((ms.to_f64()) / scale).sat_i64();
    let wander = |rng: &mut Rng, span: i64| -> i64 {
        let span = ((span.to_f64()) * options.jitter.clamp(0.0, 1.0)).sat_i64();
        if span > 0 { rng.random_range(-span..=span) } else { 0 }
    };
    let last = flow.last;
    let floor = last.unwrap_or(i64::MIN);
    let mut t = match (st.and_then(|s| s.anchor), flow.t0) {
        (Some(TimeRule::At { offset, within }), Some(t0)) => t0 + scaled(offset) + wander(rng, scaled(within)),
        (Some(TimeRule::Before(b)), Some(t0)) => {
            let hi = t0 + scaled(b) - 1;
            let lo = last.unwrap_or(hi - scaled(86_400_000)).min(hi);
            lo + rng.random_range(0..=(hi - lo).max(0)) / 2
        }
        (Some(TimeRule::After(a)), Some(t0)) => {
            floor.max(t0 + scaled(a)) + rng.random_range(0..=scaled(6 * 3_600_000).max(0))
        }
        _ => match last {
            Some(l) => l + rng.random_range(0..=scaled(3_600_000).max(0)),
            None => flow.t0.unwrap_or(drawn),
        },
    };
    if let Some(st) = st {
        if let Some(l) = last {
            t = into_window(t, l, &st.previous, &scaled, rng);
        }
        if let Some(f) = flow.first {
            t = into_window(t, f, &st.start, &scaled, rng);
        }
    }
    t.max(floor)
}

/// `t` if it is in the window after `reference`, else a time drawn inside it.
fn into_window(t: i64, reference: i64, w: &Window, scaled: &dyn Fn(i64) -> i64, rng: &mut Rng) -> i64 {
    if w.holds(t, reference, scaled) {
        return t;
    }
    let lo = reference + w.after.map_or(0, scaled);
    let hi = w.within.map_or(lo + scaled(3_600_000), |x| reference + scaled(x));
    if hi <= lo {
        return lo;
    }
    lo + rng.random_range(0..=(hi - lo))
}

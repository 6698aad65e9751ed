//! The flow generator: a proptest strategy over sets of interleaved flows.
//!
//! A [`FlowSetShape`] is what shrinks: the streams (one key each: a flow of
//! a path from the mix, and its restart), the interleaving choices, and the
//! seed of the values. [`materialize`] turns a shape into messages: values
//! from the realistic generators, then bound by the flow: key, flow id,
//! invariants, the anchor T0, state times per timing rule, monotonic times,
//! and references to earlier flows. Order within a key is always kept.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Just, Union, ValueTree};
use rand::{Rng as _, RngExt, SeedableRng};
use serde_json::Value;

use super::fields::text;
use super::fixture_io::Keyed;
use super::generate_values::{copy_ids, id_donor, state_strategy};
use super::ready::Ready;
use super::spec::{FlowSpec, TimeRule};
use super::timing::{StateTiming, Window};
use crate::error::{Error, Result};
use crate::generate::fakes::Rng;
use crate::generate::hints::Hints;
use crate::generate::sample::seeded_runner;

/// Relative weights of the spec's named paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(pub Vec<(usize, u32)>);

impl Mix {
    /// Parses `happy=80,cancel=15,rollback=5`; names must be paths of the spec.
    pub fn parse(spec: &FlowSpec, text: &str) -> Result<Mix> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, weight)) = part.split_once('=') else {
                return Err(Error::Usage(format!("--mix: expected name=weight, found {part:?}")));
            };
            let Some(path) = spec.paths.iter().position(|p| p.name == name.trim()) else {
                let known: Vec<&str> = spec.paths.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "--mix: flow {} has no path {:?} (paths: {})",
                    spec.name,
                    name.trim(),
                    known.join(", ")
                )));
            };
            let weight: u32 = weight.trim().parse().map_err(|_| {
                Error::Usage(format!(
                    "--mix: weight of {name} must be a whole number, found {weight:?}"
                ))
            })?;
            out.push((path, weight));
        }
        if out.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() == 0 {
            return Err(Error::Usage("--mix: the weights sum to zero".into()));
        }
        Ok(Mix(out))
    }

    /// Every path of the spec, equally weighted.
    pub fn uniform(spec: &FlowSpec) -> Mix {
        Mix((0..spec.paths.len()).map(|p| (p, 1)).collect())
    }
}

/// Options of a generation run.
#[derive(Debug, Clone)]
pub struct FlowOptions {
    pub flows: usize,
    pub mix: Mix,
    pub hints: Arc<Hints>,
    /// Fraction (0–1) of each timing window that event times may wander.
    pub jitter: f64,
    /// Time is compressed by this factor (load tests: 86400 makes a day a second).
    pub time_scale: f64,
}

/// One key's flows: a path (with one of its alternatives) and, after a
/// restart state, the restart flow.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamShape {
    pub path: usize,
    pub alternative: u32,
}

/// What a flow set is made of; this is what shrinks.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSetShape {
    pub streams: Vec<StreamShape>,
    /// At each step, which of the streams with events left goes next.
    pub interleave: Vec<u32>,
    pub values_seed: u64,
}

/// Shapes of `options.flows` streams (fewer when shrinking).
pub fn shapes(spec: &FlowSpec, options: &FlowOptions) -> BoxedStrategy<FlowSetShape> {
    let paths: Vec<(u32, BoxedStrategy<usize>)> = options
        .mix
        .0
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(p, w)| (*w, Just(*p).boxed()))
        .collect();
    let path = Union::new_weighted(paths);
    let stream = (path, any::<u32>()).prop_map(|(path, alternative)| StreamShape { path, alternative });
    let most_events = spec
        .paths
        .iter()
        .flat_map(|p| p.alternatives.iter().map(Vec::len))
        .max()
        .unwrap_or(1)
        * 2;
    let n = options.flows;
    (
        proptest::collection::vec(stream, 1.min(n)..=n),
        proptest::collection::vec(any::<u32>(), 0..=n * most_events),
        any::<u64>(),
    )
        .prop_map(|(streams, interleave, values_seed)| FlowSetShape {
            streams,
            interleave,
            values_seed,
        })
        .boxed()
}

/// A generator for one flow spec: the value strategies of its states are
/// built once and reused for every flow set.
pub struct FlowGenerator<'s> {
    spec: &'s FlowSpec,
    options: FlowOptions,
    strategies: Vec<BoxedStrategy<Value>>,
    /// The state a flow's key and id are drawn from, where the start
    /// state's own would break another state's schema (see [`id_donor`]).
    donor: Option<usize>,
}

impl std::fmt::Debug for FlowGenerator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowGenerator")
            .field("flow", &self.spec.name)
            .field("options", &self.options)
            .finish()
    }
}

impl<'s> FlowGenerator<'s> {
    pub fn new(spec: &'s FlowSpec, options: FlowOptions) -> Result<Self> {
        let strategies = (0..spec.states.len())
            .map(|s| state_strategy(spec, &options.hints, s))
            .collect::<Result<Vec<_>>>()?;
        let donor = id_donor(spec, &strategies)?;
        Ok(FlowGenerator {
            spec,
            options,
            strategies,
            donor,
        })
    }

    /// Shapes of flow sets; see [`shapes`].
    pub fn shapes(&self) -> BoxedStrategy<FlowSetShape> {
        shapes(self.spec, &self.options)
    }

    /// The messages of a shape, in produce order.
    pub fn materialize(&self, shape: &FlowSetShape) -> Result<Vec<Keyed>> {
        let mut out = Vec::new();
        self.materialize_into(shape, Choices::Listed(&shape.interleave), &mut |k| {
            out.push(k);
            Ok(())
        })?;
        Ok(out)
    }

    /// Exactly `options.flows` streams from `seed`: what `generate` writes.
    pub fn generate(&self, seed: u64) -> Result<Vec<Keyed>> {
        let mut out = Vec::new();
        self.generate_into(seed, &mut |k| {
            out.push(k);
            Ok(())
        })?;
        Ok(out)
    }

    /// As `generate`, handing each message to `emit` as it is made: memory
    /// follows the open streams (`OPEN_STREAMS`), not the flow count.
    /// Returns how many flows of each path it made, restarts included.
    pub fn generate_into(
        &self,
        seed: u64,
        emit: &mut dyn FnMut(Keyed) -> Result<()>,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let options = &self.options;
        let mut rng = Rng::seed_from_u64(seed);
        let total: u32 = options.mix.0.iter().map(|(_, w)| *w).sum();
        let streams: Vec<StreamShape> = (0..options.flows)
            .map(|_| {
                let mut pick = rng.random_range(0..total.max(1));
                let path = options
                    .mix
                    .0
                    .iter()
                    .find(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .map_or(0, |(p, _)| *p);
                StreamShape {
                    path,
                    alternative: rng.random(),
                }
            })
            .collect();
        let shape = FlowSetShape {
            streams,
            interleave: Vec::new(),
            values_seed: rng.random(),
        };
        let choices = Choices::Drawn(Box::new(Rng::seed_from_u64(rng.random())));
        let spec = self.spec;
        let mut by_path = std::collections::BTreeMap::new();
        for s in &shape.streams {
            let stream = open_stream(spec, s);
            *by_path.entry(spec.paths[s.path].name.clone()).or_insert(0) += 1;
            if let (2, Some(r)) = (stream.flows.len(), spec.restart_path) {
                *by_path.entry(spec.paths[r].name.clone()).or_insert(0) += 1;
            }
        }
        self.materialize_into(&shape, choices, emit)?;
        Ok(by_path)
    }
}

/// Generates `options.flows` streams of `spec` from `seed`.
pub fn generate(spec: &FlowSpec, options: &FlowOptions, seed: u64) -> Result<Vec<Keyed>> {
    FlowGenerator::new(spec, options.clone())?.generate(seed)
}

struct FlowCtx {
    ids: Vec<Value>,
    invariants: Vec<Option<Value>>,
    t0: Option<i64>,
    first: Option<i64>,
    last: Option<i64>,
}

struct Stream {
    key: Option<String>,
    key_value: Option<Value>,
    /// (state, flow number within the stream)
    events: Vec<(usize, usize)>,
    next: usize,
    flows: Vec<Option<FlowCtx>>,
}

/// Streams open at once while interleaving: a stream enters when one
/// before it ends, so memory follows open flows, not all flows. A set of
/// at most this many streams interleaves all of them from the start.
pub const OPEN_STREAMS: usize = 4096;

/// Where the next stream to go comes from: a shape's list (shrinkable), or
/// drawn as it goes (`generate`, which holds no list).
enum Choices<'a> {
    Listed(&'a [u32]),
    Drawn(Box<Rng>),
}

impl Choices<'_> {
    fn at(&mut self, step: usize) -> u32 {
        match self {
            Choices::Listed(list) => list.get(step).copied().unwrap_or(0),
            Choices::Drawn(rng) => rng.random(),
        }
    }
}

fn open_stream(spec: &FlowSpec, s: &StreamShape) -> Stream {
    let path = &spec.paths[s.path];
    let alt = &path.alternatives[s.alternative as usize % path.alternatives.len().max(1)];
    let mut events: Vec<(usize, usize)> = alt.iter().map(|st| (*st, 0)).collect();
    let restarts = alt.last().is_some_and(|last| spec.restart_after.contains(last));
    if let (true, Some(r)) = (restarts, spec.restart_path) {
        let again = &spec.paths[r].alternatives[0];
        events.extend(again.iter().map(|st| (*st, 1)));
    }
    let flows = if restarts && spec.restart_path.is_some() { 2 } else { 1 };
    Stream {
        key: None,
        key_value: None,
        events,
        next: 0,
        flows: (0..flows).map(|_| None).collect(),
    }
}

/// 64 bits of a key or id: what uniqueness is checked on (a collision
/// only makes a fresh draw).
fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl FlowGenerator<'_> {
    /// The messages of `shape`, interleaved by `choices`, handed to `emit`.
    fn materialize_into(
        &self,
        shape: &FlowSetShape,
        mut choices: Choices<'_>,
        emit: &mut dyn FnMut(Keyed) -> Result<()>,
    ) -> Result<()> {
        let (spec, options, strategies, donor) = (self.spec, &self.options, &self.strategies, self.donor);
        let mut rng = Rng::seed_from_u64(shape.values_seed);
        let window = shape.streams.len().clamp(1, OPEN_STREAMS);
        let mut waiting = shape.streams.iter();
        let mut slots: Vec<Option<Stream>> = (0..window)
            .map(|_| waiting.next().map(|s| open_stream(spec, s)))
            .collect();
        let needs_target: Vec<bool> = spec
            .states
            .iter()
            .enumerate()
            .map(|(i, _)| spec.references.iter().any(|r| r.state == i))
            .collect();
        let mut published: Vec<Vec<String>> = vec![Vec::new(); spec.references.len()];
        let mut used_keys = HashSet::new();
        let mut used_ids = HashSet::new();
        let topics: Option<Vec<Arc<str>>> = spec
            .is_multi_topic()
            .then(|| spec.channels.iter().map(|c| Arc::from(c.topic.as_str())).collect());
        let mut any_published = false;
        let is_ready = |s: &Option<Stream>, any_published: bool| {
            s.as_ref()
                .is_some_and(|s| s.next < s.events.len() && (!needs_target[s.events[s.next].0] || any_published))
        };
        let mut ready = Ready::new(window);
        for (i, s) in slots.iter().enumerate() {
            ready.set(i, is_ready(s, false));
        }
        let mut seen_codes: Vec<HashSet<String>> = vec![HashSet::new(); spec.references.len()];
        let mut step = 0usize;
        while slots.iter().any(Option::is_some) {
            if ready.count() == 0 {
                return Err(Error::Usage(format!(
                    "flow {}: the mix has events that reference earlier flows, but no flow they can reference",
                    spec.name
                )));
            }
            // The choice-th of the ready streams, in slot order (O(log n)).
            let choice = choices.at(step) as usize % ready.count();
            step += 1;
            let i = ready.kth(choice);
            let stream = slots[i].as_mut().expect("a ready slot holds a stream");
            let (state, flow_no) = stream.events[stream.next];
            stream.next += 1;
            let mut ctx = EventCtx {
                spec,
                options,
                rng: &mut rng,
                used_keys: &mut used_keys,
                used_ids: &mut used_ids,
                published: &published,
            };
            let donor = donor.filter(|d| *d != state).map(|d| (d, &strategies[d]));
            let value = ctx.event(&strategies[state], state, stream, flow_no, donor)?;
            let key = stream.key.clone().unwrap_or_default();
            if stream.next == stream.events.len() {
                // Finished: the next waiting stream takes its slot.
                slots[i] = waiting.next().map(|s| open_stream(spec, s));
            }
            ready.set(i, is_ready(&slots[i], any_published));
            let channel = spec.states[state].channel;
            if spec.classify_on(channel, &value) != Ok(state) {
                return Err(Error::Usage(format!(
                    "flow {}: a generated {} is not classified as its state",
                    spec.name, spec.states[state].name
                )));
            }
            for (r, reference) in spec.references.iter().enumerate() {
                if reference.target_state == state {
                    for code in reference.target_field.get_all(&value, state).into_iter().map(text) {
                        if seen_codes[r].insert(code.clone()) {
                            published[r].push(code);
                        }
                    }
                }
            }
            if !any_published && published.iter().any(|p| !p.is_empty()) {
                // Streams waiting for something to reference may go now.
                any_published = true;
                for (j, s) in slots.iter().enumerate() {
                    ready.set(j, is_ready(s, true));
                }
            }
            if let Some(v) = spec.schema_of(state).validate(&value).into_iter().next() {
                return Err(Error::Usage(format!(
                    "flow {}: a generated {} breaks the schema: {v}",
                    spec.name, spec.states[state].name
                )));
            }
            let headers = spec.id_headers(&value, state);
            emit(Keyed {
                key,
                value,
                topic: topics.as_ref().map(|t| t[channel].clone()),
                headers,
            })?;
        }
        Ok(())
    }
}

/// What generating one event needs besides the stream.
struct EventCtx<'a> {
    spec: &'a FlowSpec,
    options: &'a FlowOptions,
    rng: &'a mut Rng,
    used_keys: &'a mut HashSet<u64>,
    used_ids: &'a mut HashSet<u64>,
    published: &'a [Vec<String>],
}

impl EventCtx<'_> {
    fn draw(&mut self, strategy: &BoxedStrategy<Value>, state: usize) -> Result<Value> {
        let mut runner = seeded_runner(self.rng.next_u64());
        strategy
            .new_tree(&mut runner)
            .map(|t| t.current())
            .map_err(|e| Error::Usage(format!("generating {}: {e}", self.spec.states[state].name)))
    }

    /// A value of `state`; with a donor, its key and flow id come from a
    /// value of the donor state (whose ids every state's schema accepts).
    fn fresh(
        &mut self,
        strategy: &BoxedStrategy<Value>,
        state: usize,
        donor: Option<(usize, &BoxedStrategy<Value>)>,
    ) -> Result<Value> {
        let mut value = self.draw(strategy, state)?;
        if let Some((d, donor_strategy)) = donor {
            let given = self.draw(donor_strategy, d)?;
            copy_ids(self.spec, &given, d, &mut value, state);
        }
        Ok(value)
    }

    fn event(
        &mut self,
        strategy: &BoxedStrategy<Value>,
        state: usize,
        stream: &mut Stream,
        flow_no: usize,
        donor: Option<(usize, &BoxedStrategy<Value>)>,
    ) -> Result<Value> {
        let spec = self.spec;
        let starts = stream.key.is_none() || stream.flows[flow_no].is_none();
        let donor = donor.filter(|_| starts);
        let mut value = self.fresh(strategy, state, donor)?;
        // A new stream takes a key no other stream has; a new flow an unused id.
        if stream.key.is_none() {
            for _ in 0..50 {
                let key = spec.key_of(&value, state).unwrap_or_default();
                if self.used_keys.insert(fingerprint(&key)) {
                    stream.key_value = spec.key.get(&value, state).cloned();
                    stream.key = Some(key);
                    break;
                }
                value = self.fresh(strategy, state, donor)?;
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
                value = self.fresh(strategy, state, donor)?;
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
            spec.key.set(&mut value, state, k.clone());
        }
        for (field, id) in spec.flow_id.iter().zip(&flow.ids) {
            field.set(&mut value, state, id.clone());
        }
        for (i, field) in spec.invariants.iter().enumerate() {
            let Some(current) = field.get(&value, state).cloned() else {
                continue;
            };
            match &flow.invariants[i] {
                Some(v) => {
                    field.set(&mut value, state, v.clone());
                }
                None => flow.invariants[i] = Some(current),
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
    let scaled = |ms: i64| ((ms as f64) / scale) as i64;
    let wander = |rng: &mut Rng, span: i64| -> i64 {
        let span = ((span as f64) * options.jitter.clamp(0.0, 1.0)) as i64;
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

#[cfg(test)]
mod tests {
    use super::Ready;

    #[test]
    fn the_kth_ready_stream_is_the_kth_set_index() {
        let mut ready = Ready::new(37);
        let mut naive = [false; 37];
        let mut x: u64 = 7;
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let i = (x >> 33) as usize % 37;
            let on = (x >> 20) & 1 == 1;
            ready.set(i, on);
            naive[i] = on;
            let set: Vec<usize> = (0..37).filter(|j| naive[*j]).collect();
            assert_eq!(ready.count(), set.len());
            for (k, want) in set.iter().enumerate() {
                assert_eq!(ready.kth(k), *want);
            }
        }
    }
}

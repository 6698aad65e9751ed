//! The flow generator: a proptest strategy over sets of interleaved flows.
//!
//! A [`FlowSetShape`] is what shrinks: the streams (one key each: a flow of
//! a path from the mix, and its restart), the interleaving choices, and the
//! seed of the values. [`materialize`] turns a shape into messages: values
//! from the realistic generators, then bound by the flow: key, flow id,
//! invariants, the anchor T0, state times per timing rule, monotonic times,
//! and references to earlier flows. Order within a key is always kept.

use crate::num::Cast as _;
use std::collections::HashSet;

use rustc_hash::FxHashSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Just, Union};
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use super::fields::text;
use super::fixture_io::Keyed;
use super::generate_event::{EventCtx, Source, Stream};
use super::generate_values::{id_donor, state_sampler, state_strategy};
use super::ready::Ready;
use super::spare::Spare;
use super::spec::FlowSpec;
use crate::error::{Error, Result};
use crate::generate::avro_sampler::Sampler;
use crate::generate::fakes::Rng;
use crate::generate::hints::Hints;

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
    /// Per state, the direct sampler of its strategy, where it has one:
    /// what values are drawn from (see [`crate::generate::avro_sampler`]).
    samplers: Vec<Option<Sampler>>,
    /// The state a flow's key and id are drawn from, where the start
    /// state's own would break another state's schema (see [`id_donor`]).
    donor: Option<usize>,
    /// Per state, values drawn once ([`FlowGenerator::with_templates`]):
    /// events are copies of these, their ids and times stamped, instead of
    /// fresh draws.
    templates: Option<super::templates::Templates>,
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
        let samplers = (0..spec.states.len())
            .map(|s| state_sampler(spec, &options.hints, s))
            .collect();
        Ok(FlowGenerator {
            spec,
            options,
            strategies,
            samplers,
            donor,
            templates: None,
        })
    }

    /// Draws `n` values of every state once, from `seed`; from then on an
    /// event's value is a copy of one of them (picked by the flow's own
    /// draw), with its key and flow id freshly stamped in the shape of the
    /// drawn ones, and its times, invariants and references bound as
    /// always. Much faster than a draw per event (what a fake answering
    /// thousands of requests a second needs), with less variety in the
    /// other fields; shrinking is not affected, as the shape is the same.
    pub fn with_templates(mut self, n: usize, seed: u64) -> Result<Self> {
        let mut rng = Rng::seed_from_u64(seed);
        let mut pools = Vec::with_capacity(self.strategies.len());
        for (state, strategy) in self.strategies.iter().enumerate() {
            let mut pool = Vec::with_capacity(n);
            for _ in 0..n.max(1) {
                let mut runner = crate::generate::sample::seeded_runner(rng.random::<u64>());
                let value = strategy
                    .new_tree(&mut runner)
                    .map(|t| t.current())
                    .map_err(|e| Error::Usage(format!("generating {}: {e}", self.spec.states[state].name)))?;
                pool.push(value);
            }
            pools.push(pool);
        }
        self.templates = Some(super::templates::Templates::new(self.spec, pools));
        Ok(self)
    }

    /// Shapes of flow sets; see [`shapes`].
    pub fn shapes(&self) -> BoxedStrategy<FlowSetShape> {
        shapes(self.spec, &self.options)
    }

    /// The messages of a shape, in produce order.
    pub fn materialize(&self, shape: &FlowSetShape) -> Result<Vec<Keyed>> {
        let mut out = Vec::new();
        self.materialize_into(shape, Choices::Listed(&shape.interleave), &mut |k, _, _| {
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
        self.generate_reusing(seed, &mut |k, _, _| emit(k))
    }

    /// As `generate_into`, with each message's state, where `emit` may
    /// hand back values it is done with ([`Spare::put`], by their state)
    /// for later values of that state to be drawn over: the same messages,
    /// made with far fewer allocations.
    pub(crate) fn generate_reusing(
        &self,
        seed: u64,
        emit: &mut dyn FnMut(Keyed, usize, &mut Spare) -> Result<()>,
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
    let alt = &path.alternatives[s.alternative.sat_usize() % path.alternatives.len().max(1)];
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

impl FlowGenerator<'_> {
    /// The messages of `shape`, interleaved by `choices`, handed to `emit`.
    fn materialize_into(
        &self,
        shape: &FlowSetShape,
        mut choices: Choices<'_>,
        emit: &mut dyn FnMut(Keyed, usize, &mut Spare) -> Result<()>,
    ) -> Result<()> {
        let mut spare = Spare::new(self.spec.states.len());
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
        let mut used_keys = FxHashSet::default();
        let mut used_ids = FxHashSet::default();
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
            let choice = choices.at(step).sat_usize() % ready.count();
            step += 1;
            let i = ready.kth(choice);
            let Some(stream) = slots[i].as_mut() else {
                return Err(Error::internal(format!(
                    "flow {}: ready slot {i} holds no stream",
                    spec.name
                )));
            };
            let (state, flow_no) = stream.events[stream.next];
            stream.next += 1;
            let mut ctx = EventCtx {
                spec,
                options,
                rng: &mut rng,
                used_keys: &mut used_keys,
                used_ids: &mut used_ids,
                published: &published,
                templates: self.templates.as_ref(),
                spare: &mut spare,
            };
            let source = |s: usize| Source {
                strategy: &strategies[s],
                sampler: self.samplers[s].as_ref(),
            };
            let donor = donor.filter(|d| *d != state).map(|d| (d, source(d)));
            let value = ctx.event(source(state), state, stream, flow_no, donor)?;
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
            emit(
                Keyed {
                    key,
                    value,
                    topic: topics.as_ref().map(|t| t[channel].clone()),
                    headers,
                },
                state,
                &mut spare,
            )?;
        }
        Ok(())
    }
}

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

use super::fields::{self, get, get_i64, text};
use super::fixture_io::Keyed;
use super::spec::{FlowSpec, TimeRule};
use crate::error::{Error, Result};
use crate::generate::fakes::Rng;
use crate::generate::hints::Hints;
use crate::generate::sample::{self, seeded_runner};

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
        Ok(FlowGenerator {
            spec,
            options,
            strategies,
        })
    }

    /// Shapes of flow sets; see [`shapes`].
    pub fn shapes(&self) -> BoxedStrategy<FlowSetShape> {
        shapes(self.spec, &self.options)
    }

    /// The messages of a shape, in produce order.
    pub fn materialize(&self, shape: &FlowSetShape) -> Result<Vec<Keyed>> {
        materialize(self.spec, &self.options, &self.strategies, shape)
    }

    /// Exactly `options.flows` streams from `seed`: what `generate` writes.
    pub fn generate(&self, seed: u64) -> Result<Vec<Keyed>> {
        let options = &self.options;
        let mut runner = seeded_runner(seed);
        let mut shape = self
            .shapes()
            .new_tree(&mut runner)
            .map_err(|e| Error::Usage(e.to_string()))?
            .current();
        // The strategy may draw fewer streams (so sets shrink); a run asks for all.
        let mut rng = Rng::seed_from_u64(seed);
        let total: u32 = options.mix.0.iter().map(|(_, w)| *w).sum();
        while shape.streams.len() < options.flows {
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
            shape.streams.push(StreamShape {
                path,
                alternative: rng.random(),
            });
        }
        shape.streams.truncate(options.flows);
        self.materialize(&shape)
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
    last: Option<i64>,
}

struct Stream {
    key: Option<String>,
    /// (state, flow number within the stream)
    events: Vec<(usize, usize)>,
    next: usize,
    flows: Vec<Option<FlowCtx>>,
}

fn materialize(
    spec: &FlowSpec,
    options: &FlowOptions,
    strategies: &[BoxedStrategy<Value>],
    shape: &FlowSetShape,
) -> Result<Vec<Keyed>> {
    let mut rng = Rng::seed_from_u64(shape.values_seed);
    let mut streams: Vec<Stream> = shape
        .streams
        .iter()
        .map(|s| {
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
                events,
                next: 0,
                flows: (0..flows).map(|_| None).collect(),
            }
        })
        .collect();
    let total: usize = streams.iter().map(|s| s.events.len()).sum();
    let needs_target: Vec<bool> = spec
        .states
        .iter()
        .enumerate()
        .map(|(i, _)| spec.references.iter().any(|r| r.state == i))
        .collect();
    let mut published: Vec<Vec<String>> = vec![Vec::new(); spec.references.len()];
    let mut used_keys = HashSet::new();
    let mut used_ids = HashSet::new();
    let mut out = Vec::with_capacity(total);
    for step in 0..total {
        let ready: Vec<usize> = (0..streams.len())
            .filter(|i| {
                let s = &streams[*i];
                s.next < s.events.len()
                    && (!needs_target[s.events[s.next].0] || published.iter().any(|p| !p.is_empty()))
            })
            .collect();
        if ready.is_empty() {
            return Err(Error::Usage(format!(
                "flow {}: the mix has events that reference earlier flows, but no flow they can reference",
                spec.name
            )));
        }
        let choice = shape.interleave.get(step).map_or(0, |c| *c as usize % ready.len());
        let i = ready[choice];
        let (state, flow_no) = streams[i].events[streams[i].next];
        streams[i].next += 1;
        let value = event(
            spec,
            options,
            &strategies[state],
            state,
            &mut streams[i],
            flow_no,
            &mut rng,
            &mut used_keys,
            &mut used_ids,
            &published,
        )?;
        let (_, body) = spec.classify(&value).map_err(Error::Usage)?;
        for (r, reference) in spec.references.iter().enumerate() {
            if reference.target_state == state {
                for code in fields::get_all(body, &reference.target_field).into_iter().map(text) {
                    if !published[r].contains(&code) {
                        published[r].push(code);
                    }
                }
            }
        }
        if let Some(v) = spec.schema.validate(&value).into_iter().next() {
            return Err(Error::Usage(format!(
                "flow {}: a generated {} breaks the schema: {v}",
                spec.name, spec.states[state].name
            )));
        }
        out.push(Keyed {
            key: streams[i].key.clone().unwrap_or_default(),
            value,
        });
    }
    Ok(out)
}

/// Realistic whole messages of one state.
fn state_strategy(spec: &FlowSpec, hints: &Arc<Hints>, state: usize) -> Result<BoxedStrategy<Value>> {
    let branch = spec.states[state]
        .selector
        .as_str()
        .filter(|_| matches!(spec.state_source, super::spec::StateSource::Union(_)));
    let strategy = sample::strategy(&spec.schema, hints, branch)?;
    Ok(match spec.state_source {
        super::spec::StateSource::Union(_) => strategy,
        super::spec::StateSource::Field(ref path) => {
            // Keep drawing until the state field has this state's value.
            let wanted = spec.states[state].selector.clone();
            let path = path.clone();
            strategy
                .prop_filter("value of the state", move |v| fields::get(v, &path) == Some(&wanted))
                .boxed()
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn event(
    spec: &FlowSpec,
    options: &FlowOptions,
    strategy: &BoxedStrategy<Value>,
    state: usize,
    stream: &mut Stream,
    flow_no: usize,
    rng: &mut Rng,
    used_keys: &mut HashSet<String>,
    used_ids: &mut HashSet<String>,
    published: &[Vec<String>],
) -> Result<Value> {
    let draw = |rng: &mut Rng| -> Result<Value> {
        let mut runner = seeded_runner(rng.next_u64());
        strategy
            .new_tree(&mut runner)
            .map(|t| t.current())
            .map_err(|e| Error::Usage(format!("generating {}: {e}", spec.states[state].name)))
    };
    let mut value = draw(rng)?;
    // A new stream takes a key no other stream has; a new flow an unused id.
    if stream.key.is_none() {
        for _ in 0..50 {
            let key = spec
                .classify(&value)
                .ok()
                .and_then(|(_, b)| get(b, &spec.key))
                .map(text)
                .unwrap_or_default();
            if used_keys.insert(key.clone()) {
                stream.key = Some(key);
                break;
            }
            value = draw(rng)?;
        }
    }
    if stream.flows[flow_no].is_none() {
        let previous_t0 = stream.flows.iter().flatten().last().and_then(|f| f.t0);
        let mut ids = Vec::new();
        for _ in 0..50 {
            let body = spec.classify(&value).map_err(Error::Usage)?.1;
            ids = spec
                .flow_id
                .iter()
                .map(|f| get(body, f).cloned().unwrap_or(Value::Null))
                .collect();
            let joined = ids.iter().map(text).collect::<Vec<_>>().join("/");
            if used_ids.insert(joined) {
                break;
            }
            value = draw(rng)?;
        }
        let t0 = spec.timing.as_ref().and_then(|t| {
            let body = spec.classify(&value).ok()?.1;
            let drawn = get_i64(body, &t.anchor)?;
            // A restart is scheduled again some days after the flow it replaces.
            Some(match previous_t0 {
                Some(prev) => prev / t.anchor_unit_ms + rng.random_range(3..15) * 86_400_000 / t.anchor_unit_ms,
                None => drawn,
            })
        });
        stream.flows[flow_no] = Some(FlowCtx {
            ids,
            invariants: vec![None; spec.invariants.len()],
            t0,
            last: None,
        });
    }
    let key = stream.key.clone().unwrap_or_default();
    let Some(flow) = stream.flows[flow_no].as_mut() else {
        return Ok(value);
    };
    let body = body_mut(spec, &mut value);
    fields::set(body, &spec.key, Value::String(key));
    for (field, id) in spec.flow_id.iter().zip(&flow.ids) {
        fields::set(body, field, id.clone());
    }
    for (i, field) in spec.invariants.iter().enumerate() {
        let Some(current) = get(body, field).cloned() else {
            continue;
        };
        match &flow.invariants[i] {
            Some(v) => fields::set(body, field, v.clone()),
            None => flow.invariants[i] = Some(current),
        }
    }
    if let Some(timing) = &spec.timing
        && let Some(t0) = flow.t0
    {
        fields::set(body, &timing.anchor, Value::from(t0));
        let t0_ms = t0 * timing.anchor_unit_ms;
        let t = event_time(
            timing.states[state].as_ref().map(|s| s.rule),
            t0_ms,
            flow.last,
            options,
            rng,
        );
        flow.last = Some(t);
        if let Some(st) = &timing.states[state] {
            fields::set(body, &st.field, Value::from(t));
        }
        for field in &timing.monotonic {
            if get(body, field).is_some() {
                fields::set(body, field, Value::from(t));
            }
        }
    }
    for (r, reference) in spec.references.iter().enumerate() {
        if reference.state == state && !published[r].is_empty() {
            let n = rng.random_range(1..=published[r].len().min(3));
            let mut picked: Vec<String> = Vec::with_capacity(n);
            while picked.len() < n {
                let code = &published[r][rng.random_range(0..published[r].len())];
                if !picked.contains(code) {
                    picked.push(code.clone());
                }
            }
            let field = reference.field.trim_end_matches("[]");
            fields::set(
                body,
                field,
                Value::Array(picked.into_iter().map(Value::String).collect()),
            );
        }
    }
    Ok(value)
}

fn body_mut<'v>(spec: &FlowSpec, value: &'v mut Value) -> &'v mut Value {
    match &spec.state_source {
        super::spec::StateSource::Union(field) => {
            let is_wrapper = value.get(field).is_some_and(Value::is_object);
            if !is_wrapper {
                return value;
            }
            match value
                .get_mut(field)
                .and_then(|w| w.as_object_mut())
                .and_then(|w| w.values_mut().next())
            {
                Some(body) => body,
                None => unreachable_body(),
            }
        }
        super::spec::StateSource::Field(_) => value,
    }
}

#[allow(clippy::panic)]
fn unreachable_body() -> ! {
    panic!("a union wrapper checked to be an object has no body")
}

/// When an event happens: inside its timing window, never before the
/// flow's previous event.
fn event_time(rule: Option<TimeRule>, t0: i64, last: Option<i64>, options: &FlowOptions, rng: &mut Rng) -> i64 {
    let scale = options.time_scale.max(f64::MIN_POSITIVE);
    let scaled = |ms: i64| ((ms as f64) / scale) as i64;
    let wander = |rng: &mut Rng, span: i64| -> i64 {
        let span = ((span as f64) * options.jitter.clamp(0.0, 1.0)) as i64;
        if span > 0 { rng.random_range(-span..=span) } else { 0 }
    };
    let floor = last.unwrap_or(i64::MIN);
    let t = match rule {
        Some(TimeRule::At { offset, within }) => t0 + scaled(offset) + wander(rng, scaled(within)),
        Some(TimeRule::Before(b)) => {
            let hi = t0 + scaled(b) - 1;
            let lo = last.unwrap_or(hi - scaled(86_400_000)).min(hi);
            lo + rng.random_range(0..=(hi - lo).max(0)) / 2
        }
        Some(TimeRule::After(a)) => floor.max(t0 + scaled(a)) + rng.random_range(0..=scaled(6 * 3_600_000).max(0)),
        None => last.map_or(t0, |l| l + rng.random_range(0..=scaled(3_600_000).max(0))),
    };
    t.max(floor)
}

//! Flow templates: a pool of whole streams drawn once by the flow generator
//! (so every rule of the flow holds), encoded once, and then stamped out
//! by patching bytes in place: a new account in the key and key field,
//! new flow ids, new unique ids per event. Patches keep each value's
//! length and shape (a UUID stays a UUID, a 7-digit account id stays 7
//! digits), so the encoded bytes stay valid and nothing is re-encoded:
//! this is the path that makes `load` faster than the broker.

use crate::num::Cast as _;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::flow::spec::FieldRef;
use crate::flow::timing::Timing;
use crate::generate::fakes::Rng;
use crate::generate::hints::Hints;
use crate::schema::Schema;

pub use super::stamps::{Stamp, fresh_like};

/// What a patch writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Key,
    /// The `field`-th flow id field of the stream's `flow`-th flow.
    FlowId {
        flow: usize,
        field: usize,
    },
    /// A fresh value per event, drawn by the pool's stamp of this index.
    Unique(usize),
}

#[derive(Debug, Clone)]
struct Patch {
    offset: usize,
    len: usize,
    slot: Slot,
}

/// One event of a template.
#[derive(Debug, Clone)]
pub struct TemplateEvent {
    // The framed bytes, and where a flow's own values are stamped in.
    bytes: Vec<u8>,
    patches: Vec<Patch>,
    /// The state's index in the spec.
    pub state: usize,
    /// The topic of the flow it goes to (index into the spec's channels).
    pub channel: usize,
    /// Milliseconds after the stream's first event, in the flow's own time.
    pub at_ms: i64,
    /// Which of the stream's flows it belongs to (a restart is the second).
    flow: usize,
}

/// One stream: a key's flows (a restart is a second flow).
#[derive(Debug, Clone)]
pub struct Template {
    pub events: Vec<TemplateEvent>,
    /// The path the first flow took.
    pub path: usize,
    /// Per flow, per flow id field: the template's value.
    flow_ids: Vec<Vec<Vec<u8>>>,
    stamps: Arc<Stamps>,
}

/// The pool's stamps: the key's, each flow id field's, each unique field's.
#[derive(Debug)]
struct Stamps {
    key: Stamp,
    flow_ids: Vec<Stamp>,
    unique: Vec<Stamp>,
}

/// The pool templates are drawn from, by path.
#[derive(Debug)]
pub struct Pool {
    pub templates: Vec<Template>,
    /// Per path of the mix: its weight and the templates that took it.
    by_path: Vec<(u32, Vec<usize>)>,
    by_path_total: u64,
    key_shape: Vec<u8>,
    stamps: Arc<Stamps>,
    /// The flow's correlation header (`[flow] id_header`): every event
    /// carries its flow's id in it.
    pub id_header: Option<String>,
}

/// Every place `needle` occurs in `hay`.
fn occurrences(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

fn string_at<'v>(spec: &FlowSpec, value: &'v Value, state: usize, field: &FieldRef, what: &str) -> Result<&'v str> {
    field.get(value, state).and_then(Value::as_str).ok_or_else(|| {
        Error::Usage(format!(
            "load: flow {}: {what} {field} is not a string, so it cannot be varied per flow",
            spec.name()
        ))
    })
}

/// The generated values of a field, as bytes, over every event that has it.
fn samples<'v>(spec: &FlowSpec, streams: &'v [(String, Vec<Value>)], field: &FieldRef) -> Vec<&'v [u8]> {
    streams
        .iter()
        .flat_map(|(_, values)| values)
        .filter_map(|v| {
            let state = spec.classify(v).ok()?;
            field.get(v, state).and_then(Value::as_str).map(str::as_bytes)
        })
        .collect()
}

impl Pool {
    /// Draws `size` streams of `mix` from `seed` and encodes them with
    /// `encode` (Confluent-framed bytes with the registered schema id).
    /// What is stamped per flow (key, flow ids, unique ids) is drawn like
    /// the field's own generated values; [`Pool::check_stamps`] proves it.
    pub fn build(
        spec: &FlowSpec,
        mix: &Mix,
        hints: Arc<Hints>,
        size: usize,
        seed: u64,
        encode: &dyn Fn(&Value, usize) -> Result<Vec<u8>>,
    ) -> Result<Pool> {
        if !spec.references().is_empty() {
            return Err(Error::Usage(format!(
                "load: flow {} has references between flows, which load cannot vary yet; use produce",
                spec.name()
            )));
        }
        let options = FlowOptions {
            flows: size,
            mix: mix.clone(),
            hints,
            jitter: 0.5,
            time_scale: 1.0,
        };
        let generated = FlowGenerator::new(spec, options)?.generate(seed)?;
        let mut streams: Vec<(String, Vec<Value>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for k in generated {
            let i = *index.entry(k.key.clone()).or_insert_with(|| {
                streams.push((k.key.clone(), Vec::new()));
                streams.len() - 1
            });
            streams[i].1.push(k.value);
        }
        let key_shape = streams
            .first()
            .map(|(k, _)| k.as_bytes().to_vec())
            .ok_or_else(|| Error::Usage(format!("load: flow {} gave no flows to stamp out", spec.name())))?;
        if streams.iter().any(|(k, _)| k.len() != key_shape.len()) {
            return Err(Error::Usage(format!(
                "load: flow {}: keys ({}) differ in length, so they cannot be stamped out; give {} a hint that draws values of one length",
                spec.name(),
                spec.key(),
                spec.key()
            )));
        }
        let learn = |field: &FieldRef| -> Stamp {
            let all = samples(spec, &streams, field);
            let template = all.first().copied().unwrap_or_default();
            Stamp::learn(template, &all)
        };
        let keys: Vec<&[u8]> = streams.iter().map(|(k, _)| k.as_bytes()).collect();
        let stamps = Arc::new(Stamps {
            key: Stamp::learn(&key_shape, &keys),
            flow_ids: spec.flow_id().iter().map(learn).collect(),
            unique: spec.unique().iter().map(learn).collect(),
        });
        let time = spec.timing();
        let mut templates = Vec::with_capacity(streams.len());
        for (key, values) in &streams {
            templates.push(template(spec, key, values, time, &stamps, encode)?);
        }
        let by_path: Vec<(u32, Vec<usize>)> = mix
            .0
            .iter()
            .map(|(path, weight)| {
                let took = templates
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.path == *path)
                    .map(|(i, _)| i);
                (*weight, took.collect())
            })
            .collect();
        let by_path_total = by_path.iter().map(|(w, _)| u64::from(*w)).sum();
        Ok(Pool {
            templates,
            by_path,
            by_path_total,
            key_shape,
            stamps,
            id_header: spec.id_header().map(str::to_string),
        })
    }

    /// Stamps a few events of each of the first templates, decodes them
    /// (Confluent-framed Avro, or JSON) and validates them against the
    /// spec's schema, so a key or id the stamps cannot vary validly stops
    /// a run before it starts.
    pub fn check_stamps(&self, spec: &FlowSpec, seed: u64) -> Result<()> {
        let mut rng = Rng::seed_from_u64(seed ^ 0x5eed);
        let (mut key, mut ids, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (n, t) in self.templates.iter().take(32).enumerate() {
            let account = rng.random_range(0..self.key_capacity().max(1));
            self.key(account, &mut key);
            t.fresh_ids(&mut rng, &mut ids);
            for i in 0..t.events.len() {
                t.stamp(i, &key, &ids, &mut rng, &mut out);
                if let Some(problem) = decode_check_on(spec, t.events[i].channel, &out) {
                    return Err(Error::Usage(format!(
                        "load: flow {}: a stamped event (template {n}, event {i}, key {}) breaks the schema: {problem}; give the key, flow id and unique fields hints that draw values of one length",
                        spec.name(),
                        String::from_utf8_lossy(&key)
                    )));
                }
            }
        }
        Ok(())
    }

    /// The mean size of an event's framed value, in bytes.
    pub fn mean_event_bytes(&self) -> f64 {
        let (bytes, events) = self
            .templates
            .iter()
            .flat_map(|t| &t.events)
            .fold((0usize, 0usize), |(b, n), e| (b + e.bytes.len(), n + 1));
        bytes.to_f64() / events.max(1).to_f64()
    }

    /// How many accounts keys of this flow's shape can tell apart.
    pub fn key_capacity(&self) -> u64 {
        self.stamps.key.capacity()
    }

    /// The key of account `index`.
    pub fn key(&self, index: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.key_shape);
        self.stamps.key.nth(index, out);
    }

    /// A template for the next flow, in the mix's proportions.
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let mut r = rng.random_range(0..self.by_path_total);
        let mut took = &self.by_path[0].1;
        for (w, t) in &self.by_path {
            if r < u64::from(*w) {
                took = t;
                break;
            }
            r -= u64::from(*w);
        }
        if took.is_empty() {
            return rng.random_range(0..self.templates.len());
        }
        took[rng.random_range(0..took.len())]
    }
}

/// Decodes a framed event and validates it: the first problem, if any.
pub fn decode_check(spec: &FlowSpec, framed: &[u8]) -> Option<String> {
    decode_check_on(spec, 0, framed)
}

/// [`decode_check`] for a message of the flow's topic `channel`.
pub fn decode_check_on(spec: &FlowSpec, channel: usize, framed: &[u8]) -> Option<String> {
    let schema = &spec.channels()[channel].schema;
    let value = match schema {
        Schema::Avro(avro) => {
            let payload = match crate::codec::confluent::unframe(framed) {
                Ok((_, p)) => p,
                Err(e) => return Some(e.to_string()),
            };
            match crate::codec::binary::decode(avro, payload) {
                Ok(v) if !spec.channels()[channel].records => v,
                Ok(_) | Err(_) if spec.channels()[channel].records => match decode_record(avro, payload) {
                    Ok(v) => v,
                    Err(e) => return Some(e),
                },
                Ok(v) => v,
                Err(e) => return Some(e.to_string()),
            }
        }
        Schema::Json(_) => match serde_json::from_slice::<Value>(framed) {
            Ok(v) => v,
            Err(e) => return Some(e.to_string()),
        },
        Schema::Protobuf(proto) => {
            let payload = match crate::codec::confluent::unframe(framed) {
                Ok((_, p)) => p,
                Err(e) => return Some(e.to_string()),
            };
            match crate::codec::protobuf::decode_payload(proto, payload) {
                Ok(v) => v,
                Err(e) => return Some(e.to_string()),
            }
        }
    };
    schema.validate(&value).first().map(ToString::to_string)
}

/// A record written with its own schema, one branch of the union: the
/// branch it decodes as, wrapped as the union's value.
fn decode_record(union: &crate::schema::AvroSchema, payload: &[u8]) -> std::result::Result<Value, String> {
    let crate::schema::avro::Node::Union(u) = union.node(union.root()) else {
        return Err("the schema is not a union of records".into());
    };
    for (b, key) in u.branches.iter().zip(&u.keys) {
        let json = crate::schema::avro_write::standalone(union, *b);
        let Ok(own) = crate::schema::avro_parse::parse_value(&json) else {
            continue;
        };
        if let Ok(v) = crate::codec::binary::decode(&own, payload) {
            return Ok(serde_json::json!({ key.full.as_str(): v }));
        }
    }
    Err("no record of the union decodes it".into())
}

impl Template {
    /// Fresh flow ids for one stamping of this template, concatenated.
    pub fn fresh_ids(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        out.clear();
        for flow in &self.flow_ids {
            for (field, id) in flow.iter().enumerate() {
                let start = out.len();
                out.extend_from_slice(id);
                self.stamps.flow_ids[field].fresh(rng, &mut out[start..]);
            }
        }
    }

    /// The flow id text of event `i` (its flow's id fields joined by `/`,
    /// as the checker reads them), from `ids` ([`Template::fresh_ids`]).
    pub fn flow_id_text(&self, i: usize, ids: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let flow = self.events[i].flow;
        let mut start: usize = self.flow_ids[..flow].iter().flatten().map(Vec::len).sum();
        for (field, id) in self.flow_ids[flow].iter().enumerate() {
            if field > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(&ids[start..start + id.len()]);
            start += id.len();
        }
    }

    /// Writes event `i` for `key` and `ids` (from [`Template::fresh_ids`])
    /// into `out`.
    pub fn stamp(&self, i: usize, key: &[u8], ids: &[u8], rng: &mut Rng, out: &mut Vec<u8>) {
        let e = &self.events[i];
        out.clear();
        out.extend_from_slice(&e.bytes);
        for p in &e.patches {
            let target = &mut out[p.offset..p.offset + p.len];
            match p.slot {
                Slot::Key => target.copy_from_slice(key),
                Slot::FlowId { flow, field } => {
                    let start: usize = self.flow_ids[..flow].iter().flatten().map(Vec::len).sum::<usize>()
                        + self.flow_ids[flow][..field].iter().map(Vec::len).sum::<usize>();
                    target.copy_from_slice(&ids[start..start + p.len]);
                }
                Slot::Unique(u) => self.stamps.unique[u].fresh(rng, target),
            }
        }
    }
}

fn template(
    spec: &FlowSpec,
    key: &str,
    values: &[Value],
    timing: Option<&Timing>,
    stamps: &Arc<Stamps>,
    encode: &dyn Fn(&Value, usize) -> Result<Vec<u8>>,
) -> Result<Template> {
    let mut flow_ids: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut flow_keys: Vec<String> = Vec::new();
    let mut events = Vec::with_capacity(values.len());
    let mut first_time: Option<i64> = None;
    let mut first_flow_states = Vec::new();
    let mut key_in_body = None;
    for value in values {
        let state = spec.classify(value).map_err(Error::Usage)?;
        key_in_body = key_in_body.or_else(|| spec.key_of(value, state));
        let ids: Vec<&str> = spec
            .flow_id()
            .iter()
            .map(|f| string_at(spec, value, state, f, "flow id"))
            .collect::<Result<_>>()?;
        let joined = ids.join("/");
        let flow = match flow_keys.iter().position(|k| *k == joined) {
            Some(f) => f,
            None => {
                flow_keys.push(joined);
                flow_ids.push(ids.iter().map(|s| s.as_bytes().to_vec()).collect());
                flow_keys.len() - 1
            }
        };
        if flow == 0 {
            first_flow_states.push(state);
        }
        let channel = spec.states()[state].channel;
        let bytes = encode(value, channel)?;
        let mut patches = Vec::new();
        let mut add = |needle: &[u8], slot: Slot, what: &str| -> Result<()> {
            let at = occurrences(&bytes, needle);
            if at.is_empty() {
                return Err(Error::Usage(format!(
                    "load: flow {}: the {what} {:?} is not in the encoded event",
                    spec.name(),
                    String::from_utf8_lossy(needle)
                )));
            }
            patches.extend(at.into_iter().map(|offset| Patch {
                offset,
                len: needle.len(),
                slot,
            }));
            Ok(())
        };
        add(key.as_bytes(), Slot::Key, "key")?;
        for (field, id) in ids.iter().enumerate() {
            add(id.as_bytes(), Slot::FlowId { flow, field }, "flow id")?;
        }
        for (u, field) in spec.unique().iter().enumerate() {
            let Ok(unique) = string_at(spec, value, state, field, "unique field") else {
                if field.at(state).is_none() {
                    continue;
                }
                return Err(Error::Usage(format!(
                    "load: flow {}: unique field {field} is not a string, so it cannot be varied per event",
                    spec.name()
                )));
            };
            if unique.len()
                != match &stamps.unique[u] {
                    Stamp::Uuid { .. } => 36,
                    Stamp::Mask(m) => m.len(),
                }
            {
                return Err(Error::Usage(format!(
                    "load: flow {}: unique field {field} has values of several lengths; give it a hint such as uuid",
                    spec.name()
                )));
            }
            add(unique.as_bytes(), Slot::Unique(u), "unique field")?;
        }
        patches.sort_by_key(|p| p.offset);
        patches.dedup_by_key(|p| p.offset);
        let time = timing.and_then(|t| t.event_time(value, state));
        let at_ms = match (time, first_time) {
            (Some(t), Some(first)) => (t - first).max(0),
            (Some(t), None) => {
                first_time = Some(t);
                0
            }
            _ => 0,
        };
        events.push(TemplateEvent {
            bytes,
            patches,
            state,
            channel,
            at_ms,
            flow,
        });
    }
    if key_in_body.is_some_and(|k| k != key) {
        return Err(Error::Usage(format!(
            "load: flow {}: the key {key:?} differs from the key field {}",
            spec.name(),
            spec.key()
        )));
    }
    for (f, flow) in flow_ids.iter().enumerate() {
        for (field, id) in flow.iter().enumerate() {
            let len = match &stamps.flow_ids[field] {
                Stamp::Uuid { .. } => 36,
                Stamp::Mask(m) => m.len(),
            };
            if id.len() != len {
                return Err(Error::Usage(format!(
                    "load: flow {}: flow id {} has values of several lengths (flow {f}); give it a hint such as uuid",
                    spec.name(),
                    spec.flow_id()[field]
                )));
            }
        }
    }
    let path = spec
        .paths()
        .iter()
        .position(|p| p.alternatives.contains(&first_flow_states))
        .unwrap_or(0);
    Ok(Template {
        events,
        path,
        flow_ids,
        stamps: stamps.clone(),
    })
}

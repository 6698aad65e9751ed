//! Flow templates: a pool of whole streams drawn once by the flow generator
//! (so every rule of the flow holds), encoded once, and then stamped out
//! by patching bytes in place: a new account in the key and key field,
//! new flow ids, new unique ids per event. Patches keep each value's
//! length and shape (a UUID stays a UUID, a 7-digit account id stays 7
//! digits), so the encoded bytes stay valid and nothing is re-encoded:
//! this is the path that makes `load` faster than the broker.

use std::sync::Arc;

use rand::{Rng as _, RngExt};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::fields::{self, get, get_i64};
use crate::flow::generator::{FlowGenerator, FlowOptions, Mix};
use crate::generate::fakes::Rng;
use crate::generate::hints::Hints;

/// What a patch writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Key,
    /// The `field`-th flow id field of the stream's `flow`-th flow.
    FlowId {
        flow: usize,
        field: usize,
    },
    /// A fresh value per event, shaped like the template's.
    Unique(Shape),
}

/// The shape of a value to draw afresh, worked out once per template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Uuid {
        upper: bool,
    },
    /// Digits stay digits, letters letters of their case.
    Chars,
}

fn shape_of(template: &[u8]) -> Shape {
    if is_uuid(template) {
        Shape::Uuid {
            upper: template.iter().any(u8::is_ascii_uppercase),
        }
    } else {
        Shape::Chars
    }
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
    /// Milliseconds after the stream's first event, in the flow's own time.
    pub at_ms: i64,
}

/// One stream: a key's flows (a restart is a second flow).
#[derive(Debug, Clone)]
pub struct Template {
    pub events: Vec<TemplateEvent>,
    /// The path the first flow took.
    pub path: usize,
    key: Vec<u8>,
    /// Per flow, per flow id field: the template's value.
    flow_ids: Vec<Vec<Vec<u8>>>,
}

/// The pool templates are drawn from, by path.
#[derive(Debug)]
pub struct Pool {
    pub templates: Vec<Template>,
    /// Per path of the mix: its weight and the templates that took it.
    by_path: Vec<(u32, Vec<usize>)>,
    by_path_total: u64,
    key_shape: Vec<u8>,
}

/// A value shaped like `template`: a fresh UUID for a UUID, otherwise each
/// digit a random digit and each letter a random letter of its case.
pub fn fresh_like(template: &[u8], rng: &mut Rng, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(template);
    fresh_in_place(shape_of(template), template, rng, out);
}

/// [`fresh_like`] written over `target`, which is as long as `template`:
/// no allocation, for the stamping loop.
fn fresh_in_place(shape: Shape, template: &[u8], rng: &mut Rng, target: &mut [u8]) {
    if let Shape::Uuid { upper } = shape {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let letters = if upper { b'A' } else { b'a' };
        let mut at = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                target[at] = b'-';
                at += 1;
            }
            for nibble in [b >> 4, b & 0x0f] {
                target[at] = if nibble < 10 {
                    b'0' + nibble
                } else {
                    letters + nibble - 10
                };
                at += 1;
            }
        }
        return;
    }
    // One 64-bit draw gives many characters: take digits (or letters) off
    // it until it runs low, then draw again.
    let (mut bits, mut left) = (0u64, 0u64);
    let mut take = |n: u64| {
        if left < n {
            (bits, left) = (rng.next_u64(), u64::MAX);
        }
        let c = bits % n;
        bits /= n;
        left /= n;
        c as u8
    };
    for (t, &c) in target.iter_mut().zip(template) {
        *t = match c {
            b'0'..=b'9' => b'0' + take(10),
            b'a'..=b'z' => b'a' + take(26),
            b'A'..=b'Z' => b'A' + take(26),
            other => other,
        };
    }
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// How many distinct keys have the template key's shape.
fn key_capacity(shape: &[u8]) -> u64 {
    if !shape.is_empty() && shape.iter().all(u8::is_ascii_digit) {
        // Keep the first digit non-zero, as account numbers have it.
        return 9u64.saturating_mul(10u64.saturating_pow(shape.len() as u32 - 1));
    }
    shape.iter().fold(1u64, |n, c| match c {
        b'0'..=b'9' => n.saturating_mul(10),
        b'a'..=b'z' | b'A'..=b'Z' => n.saturating_mul(26),
        _ => n,
    })
}

/// The `index`-th key of the shape: a bijection, so distinct accounts get
/// distinct keys.
fn key_for(shape: &[u8], index: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(shape);
    if !shape.is_empty() && shape.iter().all(u8::is_ascii_digit) {
        let mut n = 10u64.pow(shape.len() as u32 - 1) + index;
        for c in out.iter_mut().rev() {
            *c = b'0' + (n % 10) as u8;
            n /= 10;
        }
        return;
    }
    let mut n = index;
    for c in out.iter_mut().rev() {
        match *c {
            b'0'..=b'9' => {
                *c = b'0' + (n % 10) as u8;
                n /= 10;
            }
            b'a'..=b'z' => {
                *c = b'a' + (n % 26) as u8;
                n /= 26;
            }
            b'A'..=b'Z' => {
                *c = b'A' + (n % 26) as u8;
                n /= 26;
            }
            _ => {}
        }
    }
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

fn string_at<'v>(spec: &FlowSpec, body: &'v Value, field: &str, what: &str) -> Result<&'v str> {
    get(body, field).and_then(Value::as_str).ok_or_else(|| {
        Error::Usage(format!(
            "load: flow {}: {what} {field} is not a string, so it cannot be varied per flow",
            spec.name
        ))
    })
}

impl Pool {
    /// Draws `size` streams of `mix` from `seed` and encodes them with
    /// `encode` (Confluent-framed bytes with the registered schema id).
    pub fn build(
        spec: &FlowSpec,
        mix: &Mix,
        hints: Arc<Hints>,
        size: usize,
        seed: u64,
        encode: &dyn Fn(&Value) -> Result<Vec<u8>>,
    ) -> Result<Pool> {
        if !spec.references.is_empty() {
            return Err(Error::Usage(format!(
                "load: flow {} has references between flows, which load cannot vary yet; use produce",
                spec.name
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
        let time_field = spec.timing.as_ref().and_then(|t| t.monotonic.first().cloned());
        let mut templates = Vec::with_capacity(streams.len());
        for (key, values) in streams {
            templates.push(template(spec, &key, &values, time_field.as_deref(), encode)?);
        }
        let key_shape = templates
            .first()
            .map(|t| t.key.clone())
            .ok_or_else(|| Error::Usage(format!("load: flow {} gave no flows to stamp out", spec.name)))?;
        if templates.iter().any(|t| t.key.len() != key_shape.len()) {
            return Err(Error::Usage(format!(
                "load: flow {}: keys differ in length, so they cannot be stamped out",
                spec.name
            )));
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
        })
    }

    /// The mean size of an event's framed value, in bytes.
    pub fn mean_event_bytes(&self) -> f64 {
        let (bytes, events) = self
            .templates
            .iter()
            .flat_map(|t| &t.events)
            .fold((0usize, 0usize), |(b, n), e| (b + e.bytes.len(), n + 1));
        bytes as f64 / events.max(1) as f64
    }

    /// How many accounts keys of this flow's shape can tell apart.
    pub fn key_capacity(&self) -> u64 {
        key_capacity(&self.key_shape)
    }

    /// The key of account `index`.
    pub fn key(&self, index: u64, out: &mut Vec<u8>) {
        key_for(&self.key_shape, index, out);
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

impl Template {
    /// Fresh flow ids for one stamping of this template, concatenated.
    pub fn fresh_ids(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        out.clear();
        for flow in &self.flow_ids {
            for id in flow {
                let start = out.len();
                out.extend_from_slice(id);
                fresh_in_place(shape_of(id), id, rng, &mut out[start..]);
            }
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
                Slot::Unique(shape) => fresh_in_place(shape, &e.bytes[p.offset..p.offset + p.len], rng, target),
            }
        }
    }
}

fn template(
    spec: &FlowSpec,
    key: &str,
    values: &[Value],
    time_field: Option<&str>,
    encode: &dyn Fn(&Value) -> Result<Vec<u8>>,
) -> Result<Template> {
    let mut flow_ids: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut flow_keys: Vec<String> = Vec::new();
    let mut events = Vec::with_capacity(values.len());
    let mut first_time: Option<i64> = None;
    let mut first_flow_states = Vec::new();
    for value in values {
        let (state, body) = spec.classify(value).map_err(Error::Usage)?;
        let ids: Vec<&str> = spec
            .flow_id
            .iter()
            .map(|f| string_at(spec, body, f, "flow id"))
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
        let bytes = encode(value)?;
        let mut patches = Vec::new();
        let mut add = |needle: &[u8], slot: Slot, what: &str| -> Result<()> {
            let at = occurrences(&bytes, needle);
            if at.is_empty() {
                return Err(Error::Usage(format!(
                    "load: flow {}: the {what} {:?} is not in the encoded event",
                    spec.name,
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
        for field in &spec.unique {
            let unique = string_at(spec, body, field, "unique field")?;
            add(
                unique.as_bytes(),
                Slot::Unique(shape_of(unique.as_bytes())),
                "unique field",
            )?;
        }
        patches.sort_by_key(|p| p.offset);
        patches.dedup_by_key(|p| p.offset);
        let time = time_field.and_then(|f| get_i64(body, f));
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
            at_ms,
        });
    }
    let key_in_body = values
        .first()
        .and_then(|v| spec.classify(v).ok())
        .and_then(|(_, b)| get(b, &spec.key).map(fields::text));
    if key_in_body.is_some_and(|k| k != key) {
        return Err(Error::Usage(format!(
            "load: flow {}: the key {key:?} differs from the key field {}",
            spec.name, spec.key
        )));
    }
    let path = spec
        .paths
        .iter()
        .position(|p| p.alternatives.contains(&first_flow_states))
        .unwrap_or(0);
    Ok(Template {
        events,
        path,
        key: key.as_bytes().to_vec(),
        flow_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn keys_are_distinct_and_keep_their_shape() {
        let mut out = Vec::new();
        key_for(b"1234567", 0, &mut out);
        assert_eq!(out, b"1000000");
        key_for(b"1234567", 42, &mut out);
        assert_eq!(out, b"1000042");
        assert_eq!(key_capacity(b"1234567"), 9_000_000);
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            key_for(b"AB-12", i, &mut out);
            assert_eq!(out.len(), 5);
            assert!(seen.insert(out.clone()));
        }
    }

    #[test]
    fn fresh_values_keep_the_shape() {
        let mut rng = Rng::seed_from_u64(1);
        let mut out = Vec::new();
        fresh_like(b"0b0c5f0e-7f5e-4c43-9b8e-2f7b4c1d9a10", &mut rng, &mut out);
        assert!(is_uuid(&out) && out[14] == b'4');
        fresh_like(b"AB12-x", &mut rng, &mut out);
        assert!(
            out[0].is_ascii_uppercase() && out[2].is_ascii_digit() && out[4] == b'-' && out[5].is_ascii_lowercase()
        );
    }
}

//! How a fake answers one request: which rule takes it, the draw (seeded
//! by the rule, the request's key and value, so the same request gets the
//! same reply), the flow generated for the drawn path, the request's
//! values copied in, and the fault, if one was drawn. The result is a plan
//! of reply events with their delays; nothing here touches Kafka.

use crate::num::Cast as _;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use super::rules::{Copy, Fault, On, Rule, Rules, Source, Target, Test};
use crate::error::Result;
use crate::flow::FlowSpec;
use crate::flow::fields::text;
use crate::flow::generator::{FlowGenerator, FlowSetShape, StreamShape};
use crate::generate::fakes::Rng;
use crate::load::stamps::fresh_like;

/// A request as read: its topic, key, headers and decoded value, and the
/// writer schema's record name where the registry gave one.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub headers: &'a [(String, String)],
    pub value: &'a Value,
    pub record: Option<&'a str>,
}

/// One reply event to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The flow's topic (index into the spec's channels).
    pub channel: usize,
    pub state: usize,
    pub key: Option<String>,
    pub value: Value,
    pub headers: Vec<(String, String)>,
    /// When to send it, in milliseconds after the request was read.
    pub at_ms: u64,
    /// Sent so that it does not match its schema (the schema-invalid fault).
    pub broken: bool,
}

/// What a request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Its reply, and the fault drawn for it.
    Reply { events: Vec<Planned>, fault: Option<Fault> },
    /// No reply, as planned (the `none` fault).
    Omitted,
    /// A request the rule matched but cannot answer: why.
    Unanswerable(String),
}

/// Answers requests by the rules, with one generator for the flow.
pub struct Responder<'s> {
    spec: &'s FlowSpec,
    rules: &'s Rules,
    generator: FlowGenerator<'s>,
    seed: u64,
    /// Flow time is divided by this to give delays (0: all at once).
    time_scale: f64,
}

impl std::fmt::Debug for Responder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("seed", &self.seed).finish()
    }
}

/// FNV-1a: stable across builds and platforms.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

impl<'s> Responder<'s> {
    pub fn new(spec: &'s FlowSpec, rules: &'s Rules, generator: FlowGenerator<'s>, seed: u64, time_scale: f64) -> Self {
        Responder {
            spec,
            rules,
            generator,
            seed,
            time_scale,
        }
    }

    /// The first rule that takes the request, by index.
    pub fn rule_for(&self, r: &Request<'_>) -> Option<usize> {
        self.rules.rules.iter().position(|rule| self.takes(rule, r))
    }

    fn takes(&self, rule: &Rule, r: &Request<'_>) -> bool {
        if rule.topic != r.topic {
            return false;
        }
        let kind = match &rule.on {
            On::State(s) => self.spec.classify_on(self.spec.states()[*s].channel, r.value) == Ok(*s),
            On::Record { record: None, .. } => true,
            On::Record { record: Some(name), .. } => r
                .record
                .is_some_and(|w| w == name || w.rsplit('.').next() == Some(name.as_str())),
        };
        kind && rule.when.iter().all(|(source, _, test)| {
            let v = read(source, r);
            match test {
                Test::Present(p) => v.is_some() == *p,
                Test::Equals(want) => v.is_some_and(|v| &v == want || text(&v) == text(want)),
                Test::Matches(re) => v.is_some_and(|v| re.is_match(&text(&v))),
            }
        })
    }

    /// The answer to a request `rule` took.
    pub fn answer(&self, rule_index: usize, r: &Request<'_>) -> Result<Answer> {
        let rule = &self.rules.rules[rule_index];
        let spec = self.spec;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.seed;
        fnv(&mut h, &rule_index.to_le_bytes());
        fnv(&mut h, r.key.unwrap_or(b"\0null"));
        fnv(&mut h, r.value.to_string().as_bytes());
        let mut rng = Rng::seed_from_u64(h);
        // The draw: fault, path, alternative, values, where the fault falls.
        let roll: f64 = rng.random();
        let mut fault = None;
        let mut acc = 0.0;
        for (f, p) in &rule.faults {
            acc += p;
            if roll < acc {
                fault = Some(*f);
                break;
            }
        }
        let total: u64 = rule.mix.0.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = rng.random_range(0..total.max(1));
        let mut path = rule.mix.0[0].0;
        for (p, w) in &rule.mix.0 {
            if pick < u64::from(*w) {
                path = *p;
                break;
            }
            pick -= u64::from(*w);
        }
        let alternative: u32 = rng.random();
        let values_seed: u64 = rng.random();
        let detail: u32 = rng.random();
        if fault == Some(Fault::None) {
            return Ok(Answer::Omitted);
        }
        let shape = FlowSetShape {
            streams: vec![StreamShape { path, alternative }],
            interleave: Vec::new(),
            values_seed,
        };
        let generated = self.generator.materialize(&shape)?;
        let mut events: Vec<(usize, usize, String, Value)> = Vec::with_capacity(generated.len());
        for k in generated {
            let channel = k.topic.as_deref().and_then(|t| spec.channel_of(t)).unwrap_or(0);
            let state = spec
                .classify_on(channel, &k.value)
                .map_err(|e| crate::error::Error::Usage(format!("fake: a generated event has no state: {e}")))?;
            events.push((channel, state, k.key, k.value));
        }
        // Flow of each event: a restart state ends one.
        let mut flows = Vec::with_capacity(events.len());
        let mut f = 0;
        for (_, state, _, _) in &events {
            flows.push(f);
            if spec.restart_after().contains(state) {
                f += 1;
            }
        }
        // A request in the flow: the reply continues after it.
        let mut id_header: Option<String> = None;
        let (mut reply, request_flow, base_ms) = match &rule.on {
            On::State(s) => {
                let Some(at) = events.iter().position(|e| e.1 == *s) else {
                    return Ok(Answer::Unanswerable(format!(
                        "path {} never reaches {}",
                        spec.paths()[path].name,
                        spec.states()[*s].name
                    )));
                };
                let generated_request = events[at].3.clone();
                let request_flow = flows[at];
                let mut reply: Vec<(usize, usize, usize, String, Value)> = events
                    .into_iter()
                    .zip(flows)
                    .skip(at + 1)
                    .map(|((c, s, k, v), f)| (c, s, f, k, v))
                    .collect();
                self.carry_flow(*s, r, &generated_request, request_flow, &mut reply);
                id_header = spec
                    .id_header()
                    .as_ref()
                    .and_then(|name| r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
                    .or_else(|| spec.flow_id_of(r.value, *s));
                let base = spec.timing().and_then(|t| t.event_time(r.value, *s));
                (reply, request_flow, base)
            }
            On::Record { .. } => {
                let reply: Vec<(usize, usize, usize, String, Value)> = events
                    .into_iter()
                    .zip(flows)
                    .map(|((c, s, k, v), f)| (c, s, f, k, v))
                    .collect();
                (reply, 0, None)
            }
        };
        // The rule's copies.
        let mut header_copies: Vec<(String, String, bool)> = Vec::new();
        for copy in &rule.copies {
            let Some(v) = read(&copy.source, r) else {
                return Ok(Answer::Unanswerable(format!(
                    "the request has no {}",
                    source_text(&copy.source)
                )));
            };
            apply_copy(spec, copy, &v, request_flow, &mut reply, &mut header_copies);
        }
        // A wrong correlation: the same wrong value wherever the right one was.
        let mut wrong_headers: Vec<(String, String)> = Vec::new();
        if fault == Some(Fault::WrongCorrelation) {
            for t in &rule.correlation {
                match t {
                    Target::Header(name) => {
                        let current = header_copies
                            .iter()
                            .find(|(n, _, _)| n == name)
                            .map(|(_, v, _)| v.clone())
                            .or_else(|| {
                                (spec.id_header() == Some(name.as_str()))
                                    .then(|| id_header.clone())
                                    .flatten()
                            });
                        if let Some(v) = current {
                            wrong_headers.push((name.clone(), wrong_text(&v, &mut rng)));
                        }
                    }
                    Target::Key | Target::Field { .. } => {
                        let mut replaced: Option<(Value, Value)> = None;
                        for (_, s, fl, _, v) in reply.iter_mut().filter(|e| e.2 == request_flow) {
                            let path = match t {
                                Target::Key => spec.key().at(*s),
                                Target::Field { per_state, .. } => per_state[*s].as_ref(),
                                Target::Header(_) => None,
                            };
                            let _ = fl;
                            let Some(p) = path else { continue };
                            let Some(old) = p.get(v).cloned() else { continue };
                            let new = match &replaced {
                                Some((o, n)) if *o == old => n.clone(),
                                _ => {
                                    let n = wrong_value(&old, &mut rng);
                                    replaced = Some((old, n.clone()));
                                    n
                                }
                            };
                            p.set(v, new);
                        }
                    }
                }
            }
        }
        // Headers, keys and delays.
        let mut out = Vec::with_capacity(reply.len() + 1);
        let mut last_at = 0u64;
        let first_time = reply
            .first()
            .and_then(|(_, s, _, _, v)| spec.timing().and_then(|t| t.event_time(v, *s)));
        let base = base_ms.or(first_time);
        for (channel, state, fl, stream_key, value) in reply {
            let mut headers = spec.id_headers(&value, state);
            let in_request_flow = fl == request_flow;
            if in_request_flow && let (Some(name), Some(v)) = (spec.id_header(), &id_header) {
                headers.retain(|(k, _)| k != name);
                headers.push((name.to_string(), v.clone()));
            }
            for (name, v, first_only) in &header_copies {
                if *first_only && !in_request_flow {
                    continue;
                }
                headers.retain(|(k, _)| k != name);
                headers.push((name.to_string(), v.clone()));
            }
            if in_request_flow {
                for (name, v) in &wrong_headers {
                    headers.retain(|(k, _)| k != name);
                    headers.push((name.to_string(), v.clone()));
                }
            }
            let t = spec.timing().and_then(|t| t.event_time(&value, state));
            let offset = match (t, base) {
                (Some(t), Some(b)) if self.time_scale > 0.0 => ((t - b).max(0).to_f64() / self.time_scale).sat_u64(),
                _ => 0,
            };
            let mut at_ms = rule.delay_ms + offset;
            at_ms = at_ms.max(last_at);
            last_at = at_ms;
            let key = spec.key_of(&value, state).or(Some(stream_key));
            out.push(Planned {
                channel,
                state,
                key,
                value,
                headers,
                at_ms,
                broken: false,
            });
        }
        if out.is_empty() {
            return Ok(Answer::Unanswerable(format!(
                "path {} has nothing after the request",
                spec.paths()[path].name
            )));
        }
        let n = out.len();
        let j = detail.sat_usize() % n;
        match fault {
            Some(Fault::Late) => out.iter_mut().for_each(|p| p.at_ms += rule.late_by_ms),
            Some(Fault::Duplicate) => {
                let copy = out[j].clone();
                out.insert(j + 1, copy);
            }
            Some(Fault::OutOfOrder) if n >= 2 => {
                let j = detail.sat_usize() % (n - 1);
                let (a, b) = (out[j].at_ms, out[j + 1].at_ms);
                out.swap(j, j + 1);
                out[j].at_ms = a;
                out[j + 1].at_ms = b;
            }
            Some(Fault::SchemaInvalid) => out[j].broken = true,
            _ => {}
        }
        Ok(Answer::Reply { events: out, fault })
    }

    /// A request in the flow: its key, flow id, invariants and times carry
    /// into the reply's events of its flow (the key into every event).
    fn carry_flow(
        &self,
        state: usize,
        r: &Request<'_>,
        generated: &Value,
        request_flow: usize,
        reply: &mut [(usize, usize, usize, String, Value)],
    ) {
        let spec = self.spec;
        let key = spec.key().get(r.value, state).cloned();
        let mut same_flow: Vec<(&crate::flow::spec::FieldRef, Option<Value>)> = spec
            .flow_id()
            .iter()
            .map(|f| (f, f.get(r.value, state).cloned()))
            .collect();
        same_flow.extend(spec.invariants().iter().map(|f| (f, f.get(r.value, state).cloned())));
        // Times move with the request: by the anchor's difference where the
        // flow has one, else by the request's own time's.
        let delta = spec.timing().and_then(|t| {
            let anchored = t
                .anchor
                .as_ref()
                .and_then(|a| Some(a.read(r.value, state)? - a.read(generated, state)?));
            anchored.or_else(|| Some(t.event_time(r.value, state)? - t.event_time(generated, state)?))
        });
        for (_, s, fl, k, v) in reply.iter_mut() {
            if let Some(key) = &key
                && spec.key().set(v, *s, key.clone())
            {
                *k = text(key);
            }
            if *fl == request_flow {
                for (f, value) in &same_flow {
                    if let Some(value) = value {
                        f.set(v, *s, value.clone());
                    }
                }
            }
            if let (Some(t), Some(d)) = (&spec.timing(), delta) {
                let fields = t
                    .anchor
                    .iter()
                    .chain(&t.monotonic)
                    .chain(t.states.iter().flatten().map(|st| &st.time));
                let mut seen: Vec<&str> = Vec::new();
                for tf in fields {
                    let Some(p) = tf.field.at(*s) else { continue };
                    if seen.contains(&p.text()) {
                        continue;
                    }
                    seen.push(p.text());
                    if let Some(ms) = tf.read(v, *s) {
                        tf.write(v, *s, ms + d);
                    }
                }
            }
        }
    }
}

/// The request's value at a source, if it has one.
fn read(source: &Source, r: &Request<'_>) -> Option<Value> {
    match source {
        Source::Key => r.key.map(|k| Value::String(String::from_utf8_lossy(k).into_owned())),
        Source::Header(h) => r
            .headers
            .iter()
            .find(|(k, _)| k == h)
            .map(|(_, v)| Value::String(v.clone())),
        Source::Field(p) => p.get(r.value).cloned(),
    }
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Key => "key".into(),
        Source::Header(h) => format!("header {h}"),
        Source::Field(p) => format!("field {}", p.text()),
    }
}

fn apply_copy(
    spec: &FlowSpec,
    copy: &Copy,
    v: &Value,
    request_flow: usize,
    reply: &mut [(usize, usize, usize, String, Value)],
    headers: &mut Vec<(String, String, bool)>,
) {
    match &copy.target {
        Target::Header(name) => {
            headers.retain(|(n, _, _)| n != name);
            headers.push((name.clone(), text(v), copy.first_flow_only));
        }
        Target::Key => {
            for (_, s, _, k, value) in reply.iter_mut() {
                if spec.key().set(value, *s, v.clone()) {
                    *k = text(v);
                }
            }
        }
        Target::Field { per_state, .. } => {
            for (_, s, fl, k, value) in reply.iter_mut() {
                if copy.first_flow_only && *fl != request_flow {
                    continue;
                }
                if let Some(p) = &per_state[*s] {
                    p.set(value, v.clone());
                    if spec.key().at(*s).is_some_and(|kp| kp.text() == p.text()) {
                        *k = text(v);
                    }
                }
            }
        }
    }
}

/// A different value of the same shape: a UUID for a UUID, the same
/// length and character classes for other text, another number.
fn wrong_value(v: &Value, rng: &mut Rng) -> Value {
    match v {
        Value::String(s) => Value::String(wrong_text(s, rng)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i.wrapping_add(rng.random_range(1..1000))),
            None => Value::from(n.as_f64().unwrap_or(0.0) + 1.0),
        },
        Value::Object(m) if m.len() == 1 => match m.iter().next() {
            Some((k, inner)) => serde_json::json!({ k: wrong_value(inner, rng) }),
            None => Value::Object(m.clone()),
        },
        other => other.clone(),
    }
}

fn wrong_text(s: &str, rng: &mut Rng) -> String {
    let mut out = Vec::new();
    for _ in 0..8 {
        fresh_like(s.as_bytes(), rng, &mut out);
        if out != s.as_bytes() {
            break;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| format!("{s}-wrong"))
}

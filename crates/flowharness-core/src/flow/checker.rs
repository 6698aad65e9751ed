//! The flow checker: fed observed messages one by one (decoded, with
//! partition, offset and key), it reports every broken rule with the flow
//! id, key, partition and offset. It is streaming: it keeps the open flows
//! (and a little per key), never the messages.

use crate::num::Cast as _;
use std::collections::VecDeque;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde_json::Value;

use super::fields::{fingerprint, text};
pub use super::findings::{Finding, Report, Rule};
use super::held::{Held, Reorder};
use super::spec::{FlowSpec, Severity};

mod invariant;
mod references;
mod windows;

use invariant::FirstValue;
use references::PendingReference;

/// A message as a consumer observed it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The topic it was read from (a flow on one topic needs none).
    pub topic: Option<Arc<str>>,
    /// The full name of the writer schema's record, where the registry
    /// told it (a topic of several record types needs it).
    pub record: Option<Arc<str>>,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    /// The decoded value, or why it could not be decoded.
    pub value: Result<Value, String>,
    /// The message's headers (name, value as text).
    pub headers: Vec<(String, String)>,
}

/// Options a run may change.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Overrides the spec's severity for flows left incomplete.
    pub incomplete: Option<Severity>,
    /// Event ids remembered across flows for duplicate detection.
    pub dedupe_window: usize,
    /// Timing rules are divided by this (load tests compress time).
    pub time_scale: f64,
    /// Findings kept in full; past this only counted.
    pub max_findings: usize,
    /// The topic each of the spec's topics is read from, in the spec's
    /// order, where they are not the spec's own names (a scenario's own
    /// topics, `verify --topic`). Empty: the spec's names.
    pub topics: Vec<String>,
    /// Only some partitions are read (one instance of several): per-key
    /// rules stay exact, since a key lives on one partition, but a
    /// reference to a value published under another key may be on a
    /// partition another instance reads, so an unresolved one is a
    /// warning that says so, not a violation.
    pub partial: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            incomplete: None,
            dedupe_window: 100_000,
            time_scale: 1.0,
            max_findings: 10_000,
            topics: Vec::new(),
            partial: false,
        }
    }
}

#[derive(Debug)]
pub(super) struct OpenFlow {
    key: String,
    pub(super) state: usize,
    path: Vec<u16>,
    invariants: Box<[Option<FirstValue>]>,
    pub(super) t0: Option<i64>,
    pub(super) first_time: Option<i64>,
    pub(super) last_time: Option<i64>,
    /// The topic of the flow's previous event.
    pub(super) last_channel: usize,
    pub(super) monotonic: Vec<Option<i64>>,
    pub(super) unknown: bool,
    at: (i32, i64),
    /// Where it started, for a flow across topics.
    topic: Option<Arc<str>>,
    /// When it last came to rest in an end state that may still go on
    /// (a Completed that a rollback may follow), by [`Checker::resting`]'s count.
    rested: u64,
}

#[derive(Debug, Default)]
struct KeyInfo {
    /// Per topic of the flow, the partition the key was seen on.
    partitions: Vec<Option<i32>>,
    /// Ids of the key's open flows, shared with the flow map's keys.
    open: Vec<Arc<str>>,
    /// Fingerprints ([`fingerprint`]) of this key's last few closed flow ids:
    /// eight bytes each, as every idle key in the window keeps them.
    closed: Vec<u64>,
}

pub struct Checker<'s> {
    pub(super) spec: &'s FlowSpec,
    pub(super) options: CheckOptions,
    /// Open flows by id: the id is allocated once and shared with the
    /// key's open list and the resting queue.
    pub(super) flows: HashMap<Arc<str>, Box<OpenFlow>>,
    /// Per flow id, the correlation header its first message carried
    /// (`[flow] id_header`); forgotten when the flow closes.
    correlations: HashMap<String, String>,
    keys: HashMap<String, KeyInfo>,
    /// Keys as they were left with no open flow, oldest first.
    idle_keys: VecDeque<String>,
    /// Flows at rest in an end state they may still leave (Completed, which
    /// a rollback may follow), oldest first, with when they came to rest:
    /// beyond the last `dedupe_window` of them they are closed as complete,
    /// so memory follows open flows, not every flow that ever completed.
    resting: VecDeque<(Arc<str>, u64)>,
    rests: u64,
    /// Whether any ended flow or idle key has been forgotten (past the window).
    forgot: bool,
    recent_ids: VecDeque<u64>,
    recent_set: HashSet<u64>,
    /// Per reference: the values published, with the partition each was
    /// first seen on.
    references: Vec<HashMap<String, i32>>,
    /// References to values not seen yet. Kafka orders a partition, not a
    /// topic: a value published on another partition may be read later
    /// and still have been published first, so these wait for the end.
    pending_references: Vec<PendingReference>,
    missing_key_reported: bool,
    /// Events of flows across topics, held until their time comes.
    pub(super) reorder: Option<Reorder>,
    /// The topic names messages are read from, per channel.
    topics: Vec<Arc<str>>,
    report: Report,
}

impl fmt::Debug for Checker<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checker")
            .field("flow", &self.spec.name)
            .field("open_flows", &self.flows.len())
            .finish()
    }
}

/// Whether a value is already a union branch wrapper of the schema's root union.
fn is_branch_of(value: &Value, schema: &crate::schema::Schema) -> bool {
    let (Value::Object(m), crate::schema::Schema::Avro(a)) = (value, schema) else {
        return false;
    };
    let crate::schema::avro::Node::Union(u) = a.node(a.root()) else {
        return false;
    };
    m.len() == 1 && m.keys().next().is_some_and(|k| u.keys.iter().any(|b| b.full == *k))
}

fn hash_of(v: &Value) -> u64 {
    // The fingerprint that stands for the id in the dedupe window.
    match v {
        Value::String(s) => fingerprint(s),
        other => fingerprint(&other.to_string()),
    }
}

pub(super) struct At<'a> {
    pub(super) topic: Option<&'a str>,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) key: Option<&'a str>,
    pub(super) flow: Option<&'a str>,
}

impl<'s> Checker<'s> {
    pub fn new(spec: &'s FlowSpec, options: CheckOptions) -> Self {
        let topics = spec
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| Arc::from(options.topics.get(c).map_or(ch.topic.as_str(), String::as_str)))
            .collect();
        let reorder = spec.is_multi_topic().then(Reorder::default);
        Checker {
            reorder,
            topics,
            spec,
            options,
            flows: HashMap::default(),
            correlations: HashMap::default(),
            keys: HashMap::default(),
            idle_keys: VecDeque::new(),
            resting: VecDeque::new(),
            rests: 0,
            forgot: false,
            recent_ids: VecDeque::new(),
            recent_set: HashSet::default(),
            references: vec![HashMap::default(); spec.references.len()],
            pending_references: Vec::new(),
            missing_key_reported: false,
            report: Report::default(),
        }
    }

    /// Flows being followed right now.
    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    pub(super) fn find(&mut self, rule: Rule, severity: Severity, at: &At<'_>, message: String) {
        self.report.count(rule, severity);
        if self.report.findings.len() < self.options.max_findings {
            self.report.findings.push(Finding {
                rule,
                severity,
                topic: at.topic.map(str::to_string),
                partition: at.partition,
                offset: at.offset,
                key: at.key.map(str::to_string),
                flow_id: at.flow.map(str::to_string),
                message,
            });
        }
    }

    pub fn observe(&mut self, m: &Observed) {
        self.report.messages += 1;
        let spec = self.spec;
        let multi = spec.is_multi_topic();
        let channel = if multi {
            m.topic
                .as_deref()
                .and_then(|t| self.topics.iter().position(|x| &**x == t))
        } else {
            Some(0)
        };
        let mut at = At {
            topic: if multi { m.topic.as_deref() } else { None },
            partition: m.partition,
            offset: m.offset,
            key: m.key.as_deref(),
            flow: None,
        };
        let Some(channel) = channel else {
            let known: Vec<&str> = self.topics.iter().map(|t| &**t).collect();
            let message = format!("a message on a topic that is none of the flow's ({})", known.join(", "));
            return self.find(Rule::UnknownState, Severity::Error, &at, message);
        };
        let value = match &m.value {
            Ok(v) => v,
            Err(e) => return self.find(Rule::SchemaInvalid, Severity::Error, &at, e.clone()),
        };
        // A record read with its own writer schema is the union's branch of that name.
        let wrapped;
        let value = match (&m.record, spec.channels[channel].records) {
            (Some(record), true) if !is_branch_of(value, &spec.channels[channel].schema) => {
                wrapped = serde_json::json!({ record.as_ref(): value });
                &wrapped
            }
            _ => value,
        };
        if let Some(v) = spec.channels[channel].schema.validate(value).into_iter().next() {
            return self.find(Rule::SchemaInvalid, Severity::Error, &at, v.to_string());
        }
        let state = match spec.classify_on(channel, value) {
            Ok(x) => x,
            Err(e) => return self.find(Rule::UnknownState, Severity::Error, &at, e),
        };
        let state_name = &spec.states[state].name;
        let Some(flow_id) = spec.flow_id_ref(value, state) else {
            let names: Vec<&str> = spec.flow_id.iter().map(|f| f.text.as_str()).collect();
            return self.find(
                Rule::MissingFlowId,
                Severity::Error,
                &at,
                format!("{state_name} has no {}", names.join("/")),
            );
        };
        let key = spec.key_ref(value, state).unwrap_or_default();
        match &m.key {
            None if !self.missing_key_reported => {
                self.missing_key_reported = true;
                let message = format!(
                    "messages carry no key, so order per {} is not guaranteed (reported once)",
                    spec.key
                );
                self.find(Rule::MissingKey, Severity::Warning, &at, message);
            }
            Some(k) if *k != *key => {
                let message = format!("message key {k:?} does not match {} {key:?}", spec.key);
                self.find(Rule::KeyMismatch, Severity::Error, &at, message);
            }
            _ => {}
        }
        at.key = Some(&*key);
        at.flow = Some(&*flow_id);
        if let Some(header) = &spec.id_header {
            match m.headers.iter().find(|(h, _)| h == header) {
                None => {
                    let message =
                        format!("no header {header:?}: every message of a flow carries its correlation id there");
                    self.find(Rule::CorrelationHeader, Severity::Error, &at, message);
                }
                Some((_, v)) => match self.correlations.get(&*flow_id) {
                    Some(first) if first != v => {
                        let message =
                            format!("header {header:?} is {v:?}, but earlier messages of the flow carried {first:?}");
                        self.find(Rule::CorrelationHeader, Severity::Error, &at, message);
                    }
                    Some(_) => {}
                    None => {
                        self.correlations.insert(flow_id.to_string(), v.clone());
                    }
                },
            }
        }
        let channels = spec.channels.len();
        // One lookup for a key seen before (most messages), and a copy of
        // the key only for a new one.
        let info = match self.keys.get_mut(&*key) {
            Some(info) => info,
            None => self.keys.entry(key.to_string()).or_default(),
        };
        if info.partitions.len() != channels {
            info.partitions = vec![None; channels];
        }
        match info.partitions[channel] {
            Some(p) if p != m.partition => {
                let message = format!(
                    "key seen on partition {p} and {}: its order is not guaranteed",
                    m.partition
                );
                self.find(Rule::KeyOnManyPartitions, Severity::Error, &at, message);
            }
            _ => info.partitions[channel] = Some(m.partition),
        }
        self.check_unique(value, state, &at);
        self.check_references(state, value, &at);
        // In order across topics (nothing of the flow waiting, and the flow
        // can take it): applied now, not held and released.
        if multi && (self.is_waiting(&flow_id) || !self.accepts(&flow_id, state)) {
            let time = spec
                .timing
                .as_ref()
                .and_then(|t| t.event_time(value, state))
                .unwrap_or(i64::MIN);
            let held = Held {
                time,
                channel,
                state,
                key: key.to_string(),
                value: value.clone(),
                topic: m.topic.clone().unwrap_or_else(|| self.topics[channel].clone()),
                partition: m.partition,
                offset: m.offset,
            };
            self.hold(&flow_id, held);
            self.release(&flow_id, false);
            return;
        }
        self.apply(state, value, &flow_id, &key, &at);
    }

    /// The flow rules of one event, in the flow's order.
    pub(super) fn apply(&mut self, state: usize, value: &Value, flow_id: &str, key: &str, at: &At<'_>) {
        if self.flows.contains_key(flow_id) {
            self.continue_flow(state, value, flow_id, at);
        } else {
            self.start_flow(state, value, flow_id, key, at);
        }
        if self.spec.is_final(state) {
            self.close(flow_id);
        } else if self.spec.end.contains(&state) {
            self.rest(flow_id);
        }
    }

    fn check_unique(&mut self, value: &Value, state: usize, at: &At<'_>) {
        for field in &self.spec.unique {
            let Some(v) = field.get(value, state) else { continue };
            let h = hash_of(v);
            if self.recent_set.contains(&h) {
                self.find(
                    Rule::DuplicateEventId,
                    Severity::Error,
                    at,
                    format!("{field} {} was seen before", text(v)),
                );
                continue;
            }
            self.recent_set.insert(h);
            self.recent_ids.push_back(h);
            if self.recent_ids.len() > self.options.dedupe_window
                && let Some(old) = self.recent_ids.pop_front()
            {
                self.recent_set.remove(&old);
            }
        }
    }

    fn start_flow(&mut self, state: usize, value: &Value, flow_id: &str, key: &str, at: &At<'_>) {
        let spec = self.spec;
        let name = &spec.states[state].name;
        let restarts = !spec.restart_after.is_empty();
        let closed_here = self
            .keys
            .get(key)
            .is_some_and(|k| k.closed.contains(&fingerprint(flow_id)));
        let known = spec.start.contains(&state);
        if closed_here && (restarts || !known) {
            let (rule, message) = if known {
                (
                    Rule::RestartReusedFlowId,
                    format!("{name} restarts with flow id {flow_id}, which an ended flow used"),
                )
            } else {
                (Rule::AfterTerminal, format!("{name} after the flow ended"))
            };
            self.find(rule, Severity::Error, at, message);
        } else if !known {
            let starts: Vec<&str> = spec.start.iter().map(|s| spec.states[*s].name.as_str()).collect();
            let mut message = format!("{name} for a flow that never started (no {})", starts.join(" or "));
            if self.forgot {
                let _ = write!(
                    message,
                    ", or one that ended before the checker's window of the last {} ended flows",
                    self.options.dedupe_window
                );
            }
            self.find(Rule::UnknownFlow, Severity::Error, at, message);
        }
        if restarts && known {
            let previous: Vec<Arc<str>> = self.keys.get(key).map(|k| k.open.clone()).unwrap_or_default();
            for old in previous {
                let Some(flow) = self.flows.get(&*old) else { continue };
                if !flow.unknown && !spec.end.contains(&flow.state) {
                    let message = format!(
                        "{name} restarts while flow {old} is open in {}",
                        spec.states[flow.state].name
                    );
                    self.find(Rule::RestartWhileOpen, Severity::Error, at, message);
                }
                self.close(&old);
            }
        }
        if known && !(closed_here && restarts) {
            self.report.flows_started += 1;
        }
        let flow = OpenFlow {
            key: key.to_string(),
            state,
            path: vec![state.sat_u16()],
            invariants: spec
                .invariants
                .iter()
                .map(|f| f.get(value, state).map(FirstValue::of))
                .collect(),
            t0: None,
            first_time: None,
            last_time: None,
            last_channel: spec.states[state].channel,
            monotonic: Vec::new(),
            unknown: !known || (closed_here && restarts),
            at: (at.partition, at.offset),
            topic: at.topic.map(Arc::from),
            rested: 0,
        };
        let id: Arc<str> = Arc::from(flow_id);
        self.flows.insert(id.clone(), Box::new(flow));
        // The key was seen by `observe` (a flow held across topics too), so
        // this is one lookup and no copy of the key.
        let info = match self.keys.get_mut(key) {
            Some(info) => info,
            None => self.keys.entry(key.to_string()).or_default(),
        };
        // Most keys have one flow open at a time: room for one, not four.
        if info.open.capacity() == 0 {
            info.open.reserve_exact(1);
        }
        info.open.push(id);
        if known {
            self.check_times(state, value, flow_id, at);
        }
    }

    fn continue_flow(&mut self, state: usize, value: &Value, flow_id: &str, at: &At<'_>) {
        let spec = self.spec;
        let Some(flow) = self.flows.get_mut(flow_id) else {
            return;
        };
        flow.path.push(state.sat_u16());
        let previous = flow.state;
        flow.state = state;
        if flow.unknown {
            return;
        }
        let mut found = Vec::new();
        if !spec.allows(previous, state) {
            let allowed: Vec<&str> = spec.transitions[previous]
                .iter()
                .map(|(t, _)| spec.states[*t].name.as_str())
                .collect();
            let (from, to) = (&spec.states[previous].name, &spec.states[state].name);
            if spec.start.contains(&state) && !spec.restart_after.is_empty() {
                found.push((
                    Rule::RestartReusedFlowId,
                    format!("{to} restarts with the open flow's id (after {from})"),
                ));
            } else if allowed.is_empty() {
                found.push((Rule::AfterTerminal, format!("{to} after {from}, which ends the flow")));
            } else {
                found.push((
                    Rule::TransitionNotAllowed,
                    format!("{from} → {to} is not allowed (allowed: {})", allowed.join(", ")),
                ));
            }
        }
        for (i, field) in spec.invariants.iter().enumerate() {
            let Some(now) = field.get(value, state) else { continue };
            match &flow.invariants[i] {
                Some(before) if !before.is(now) => {
                    found.push((
                        Rule::BrokenInvariant,
                        format!("{field} changed within the flow: {} → {}", before.text(), text(now)),
                    ));
                }
                Some(_) => {}
                None => flow.invariants[i] = Some(FirstValue::of(now)),
            }
        }
        for (rule, message) in found {
            self.find(rule, Severity::Error, at, message);
        }
        self.check_times(state, value, flow_id, at);
    }

    /// Ends the stream: flows still open and not in an end state are
    /// incomplete.
    pub fn finish(mut self) -> Report {
        self.release_all();
        self.report_pending_references();
        let severity = self.options.incomplete.unwrap_or(self.spec.incomplete);
        let mut open: Vec<(Arc<str>, Box<OpenFlow>)> = self.flows.drain().collect();
        open.sort_by_key(|(_, f)| f.at);
        for (id, flow) in open {
            if !flow.unknown && !self.spec.end.contains(&flow.state) {
                let at = At {
                    topic: flow.topic.as_deref(),
                    partition: flow.at.0,
                    offset: flow.at.1,
                    key: Some(&flow.key),
                    flow: Some(&id),
                };
                let message = format!(
                    "flow ended the stream in {}, not an end state",
                    self.spec.states[flow.state].name
                );
                self.find(Rule::IncompleteFlow, severity, &at, message);
            }
            self.count_complete(&flow);
        }
        self.report
    }
}

//! Flow specs: declarative contracts over sequences of messages, in TOML
//! files under `flows/`. The format is documented in the README. Every
//! rejection names the file and the key (TOML syntax errors, the line).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::path::MsgPath;
use super::schema_paths::Resolver;
pub(super) use super::spec_file::{ChannelFile, StateTimingFile, TimingFile};
use super::spec_file::{PathFile, SpecFile, channels_of, state_entry};
pub use super::timing::{StateTiming, TimeRule, Timing};
use crate::error::{Diagnostic, Error, Result};
use crate::schema::Schema;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Where a message's state comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StateSource {
    /// The branch of the Avro union at this path (`event`, `payload`,
    /// `envelope.body`); a state's short field paths are inside its branch.
    Union(MsgPath),
    /// The value of this enum or string field (`status`, `data.type`).
    Field(MsgPath),
    /// Every message on the topic is its one state (`state = { single =
    /// true }`): a topic of measurements or commands with no state field.
    Single,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    /// The union branch's short or full name, or the field's value.
    pub selector: Value,
    /// For a union state: the branch's full name, as Avro JSON keys it.
    pub branch: Option<String>,
    /// The topic (index into [`FlowSpec::channels`]) its messages are on.
    pub channel: usize,
}

/// A topic a flow's messages live on: its schema and where its messages'
/// states are.
#[derive(Debug, Clone)]
pub struct Channel {
    pub topic: String,
    pub schema: Schema,
    pub state_source: StateSource,
    /// The topic carries several record types, each its own schema under
    /// the topic-record subject strategy; `schema` is their union and a
    /// message's state is its writer schema's record.
    pub records: bool,
    /// How many partitions the topic should have, where the contract says
    /// (an AsyncAPI Kafka binding, or `partitions` in `[topics.NAME]`).
    pub partitions: Option<u32>,
}

/// A field path of the spec, resolved for every state: where the state's
/// messages hold it, or `None` where they do not.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// As the spec wrote it.
    pub text: String,
    per_state: Vec<Option<MsgPath>>,
}

impl FieldRef {
    pub(super) fn new(text: &str, per_state: Vec<Option<MsgPath>>) -> FieldRef {
        FieldRef {
            text: text.to_string(),
            per_state,
        }
    }

    /// The path in messages of `state`.
    pub fn at(&self, state: usize) -> Option<&MsgPath> {
        self.per_state.get(state).and_then(Option::as_ref)
    }

    /// The value in a message of `state`, when it has one (not null).
    pub fn get<'v>(&self, value: &'v Value, state: usize) -> Option<&'v Value> {
        self.at(state).and_then(|p| p.get(value))
    }

    /// Every value (one per item below a `[]`).
    pub fn get_all<'v>(&self, value: &'v Value, state: usize) -> Vec<&'v Value> {
        self.at(state).map(|p| p.get_all(value)).unwrap_or_default()
    }

    /// Writes the value in a message of `state`; false where it has no such field.
    pub fn set(&self, value: &mut Value, state: usize, new: Value) -> bool {
        match self.at(state) {
            Some(p) => {
                p.set(value, new);
                true
            }
            None => false,
        }
    }
}

impl std::fmt::Display for FieldRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A named path: alternative state sequences from a start to an end state.
#[derive(Debug, Clone, PartialEq)]
pub struct PathDef {
    pub name: String,
    pub alternatives: Vec<Vec<usize>>,
}

/// Values of `field` in `state`'s events must be values of `target_field`
/// in earlier flows of `target_state`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub state: usize,
    pub field: FieldRef,
    pub target_state: usize,
    pub target_field: FieldRef,
}

/// A checked flow spec.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    pub name: String,
    pub description: String,
    /// The first topic's schema, topic and state source; a flow on one
    /// topic has no other. See [`FlowSpec::channels`].
    pub schema: Schema,
    pub topic: String,
    pub key: FieldRef,
    pub state_source: StateSource,
    pub states: Vec<State>,
    pub flow_id: Vec<FieldRef>,
    /// The header every message of a flow carries one correlation id in,
    /// where the contract says (`[flow] id_header`; AsyncAPI's header
    /// `correlationId`): generated messages carry their flow id there, and
    /// the checker finds messages without it or whose value differs from
    /// what the flow's first message carried.
    pub id_header: Option<String>,
    pub start: Vec<usize>,
    pub end: Vec<usize>,
    pub restart_after: Vec<usize>,
    pub restart_path: Option<usize>,
    /// Per state: allowed next states with their generation weights.
    pub transitions: Vec<Vec<(usize, u32)>>,
    pub paths: Vec<PathDef>,
    pub invariants: Vec<FieldRef>,
    pub unique: Vec<FieldRef>,
    pub incomplete: Severity,
    pub timing: Option<Timing>,
    pub references: Vec<Reference>,
    /// Every topic of the flow, in name order (one for most flows).
    pub channels: Vec<Channel>,
    /// How far producers' clocks may disagree across topics: events of a
    /// flow on different topics are put in time order, and one may arrive
    /// this much later than a later one on another topic.
    pub cross_topic_skew_ms: i64,
    /// The spec's tables as written (schema entries as given), for export.
    pub(crate) source: Value,
}

/// Collects problems, each at a key.
pub(super) struct Problems(pub(super) Vec<Diagnostic>);

impl Problems {
    pub(super) fn add(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(Diagnostic::new(message).within(key.to_string()));
    }

    /// Whether a problem was already reported at `key`.
    pub(super) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|d| d.location.first().is_some_and(|l| l == key))
    }
}

impl FlowSpec {
    /// Loads a spec file; its schema path is relative to the spec's folder.
    pub fn load(path: &Path) -> Result<FlowSpec> {
        let place = path.display().to_string();
        let text = crate::error::read_to_string(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        FlowSpec::parse(&text, &|schema: &str| Schema::load(&base.join(schema))).map_err(|e| e.within(&place))
    }

    /// Parses spec text; `load_schema` resolves the spec's `schema` entry.
    pub fn parse(text: &str, load_schema: &dyn Fn(&str) -> Result<Schema>) -> Result<FlowSpec> {
        let toml_error = |e: toml::de::Error| Error::invalid(Diagnostic::new(e.to_string().trim().replace('\n', " ")));
        let file: SpecFile = toml::from_str(text).map_err(toml_error)?;
        let source: Value = toml::from_str(text).map_err(toml_error)?;
        FlowSpec::from_file(file, source, load_schema)
    }

    /// A spec from its tables as a JSON value (the TOML file's tables, or
    /// ones assembled from another document such as an AsyncAPI one).
    pub fn from_tables(source: Value, load_schema: &dyn Fn(&str) -> Result<Schema>) -> Result<FlowSpec> {
        let file: SpecFile = serde_json::from_value(source.clone())
            .map_err(|e| Error::invalid(Diagnostic::new(e.to_string().trim().replace('\n', " "))))?;
        FlowSpec::from_file(file, source, load_schema)
    }

    fn from_file(file: SpecFile, source: Value, load_schema: &dyn Fn(&str) -> Result<Schema>) -> Result<FlowSpec> {
        let channels = channels_of(&file, load_schema)?;
        let mut p = Problems(Vec::new());
        let mut spec = build(file, channels, &mut p);
        spec.source = source;
        if p.0.is_empty() {
            Ok(spec)
        } else {
            Err(Error::Invalid(p.0))
        }
    }

    /// The spec's tables as written, schema entries as given.
    pub fn source(&self) -> &Value {
        &self.source
    }

    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    pub fn path(&self, name: &str) -> Option<&PathDef> {
        self.paths.iter().find(|p| p.name == name)
    }

    /// Whether a state has no way on (no outgoing transition).
    pub fn is_final(&self, state: usize) -> bool {
        self.transitions[state].is_empty()
    }

    pub fn allows(&self, from: usize, to: usize) -> bool {
        self.transitions[from].iter().any(|(t, _)| *t == to)
    }

    /// Whether the flow's messages live on several topics.
    pub fn is_multi_topic(&self) -> bool {
        self.channels.len() > 1
    }

    /// The partitions the contract asks for: the most any topic names.
    pub fn partitions(&self) -> Option<i32> {
        self.channels
            .iter()
            .filter_map(|c| c.partitions)
            .max()
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// The channel of a topic name, as the spec names its topics.
    pub fn channel_of(&self, topic: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.topic == topic)
    }

    /// The schema of a state's messages.
    pub fn schema_of(&self, state: usize) -> &Schema {
        &self.channels[self.states[state].channel].schema
    }

    /// The state of a message whose topic is not known: the first topic
    /// whose states it matches (a flow on one topic has only that one).
    pub fn classify(&self, value: &Value) -> std::result::Result<usize, String> {
        if !self.is_multi_topic() {
            return self.classify_on(0, value);
        }
        // A topic of one state (`single`) takes anything, so it is tried
        // last, and only for a value its schema accepts.
        let single = |c: &usize| matches!(self.channels[*c].state_source, StateSource::Single);
        let mut first = None;
        for c in (0..self.channels.len()).filter(|c| !single(c)) {
            match self.classify_on(c, value) {
                Ok(s) => return Ok(s),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        for c in (0..self.channels.len()).filter(single) {
            if self.channels[c].schema.validate(value).is_empty() {
                return self.classify_on(c, value);
            }
        }
        Err(first.unwrap_or_else(|| "the message fits the schema of none of the flow's topics".to_string()))
    }

    /// The state of a message on topic `channel`, or why it has none.
    pub fn classify_on(&self, channel: usize, value: &Value) -> std::result::Result<usize, String> {
        let on = |s: &&State| s.channel == channel;
        match &self.channels[channel].state_source {
            StateSource::Union(path) => {
                let Some(Value::Object(wrapper)) = path.get(value) else {
                    return Err(format!("no union field {path:?}", path = path.text()));
                };
                let Some((full, _)) = wrapper.iter().next().filter(|_| wrapper.len() == 1) else {
                    return Err(format!("union field {:?} holds no single branch", path.text()));
                };
                match self
                    .states
                    .iter()
                    .position(|s| on(&s) && s.branch.as_deref() == Some(full))
                {
                    Some(i) => Ok(i),
                    None => {
                        let short = full.rsplit('.').next().unwrap_or(full);
                        Err(format!("{short} is not a state of flow {}", self.name))
                    }
                }
            }
            StateSource::Single => self
                .states
                .iter()
                .position(|s| on(&s))
                .ok_or_else(|| format!("topic {} has no state", self.channels[channel].topic)),
            StateSource::Field(path) => {
                let v = path
                    .get(value)
                    .ok_or_else(|| format!("no state field {:?}", path.text()))?;
                match self.states.iter().position(|s| on(&s) && &s.selector == v) {
                    Some(i) => Ok(i),
                    None => Err(format!("{} = {v} is not a state of flow {}", path.text(), self.name)),
                }
            }
        }
    }

    /// The flow id of a message of `state`: its id fields' texts joined by `/`.
    pub fn flow_id_of(&self, value: &Value, state: usize) -> Option<String> {
        let parts: Option<Vec<String>> = self
            .flow_id
            .iter()
            .map(|f| f.get(value, state).map(super::fields::text))
            .collect();
        parts.map(|p| p.join("/"))
    }

    /// The headers a message of `state` carries by contract: its flow id
    /// in `[flow] id_header`, where the spec has one.
    pub fn id_headers(&self, value: &Value, state: usize) -> Vec<(String, String)> {
        match (&self.id_header, self.flow_id_of(value, state)) {
            (Some(h), Some(id)) => vec![(h.clone(), id)],
            _ => Vec::new(),
        }
    }

    /// The key of a message of `state`, as text.
    pub fn key_of(&self, value: &Value, state: usize) -> Option<String> {
        self.key.get(value, state).map(super::fields::text)
    }

    /// A field path written at run time (a step's text), resolved for `state`
    /// as the spec's own paths are.
    pub fn resolve(&self, state: usize, text: &str) -> Result<MsgPath> {
        super::schema_paths::resolve_one(self, state, text).map_err(Error::Usage)
    }

    /// The names of the spec's paths, for messages.
    pub fn path_names(&self) -> Vec<&str> {
        self.paths.iter().map(|p| p.name.as_str()).collect()
    }

    /// Which named path a completed sequence of states took, if any.
    pub fn path_of(&self, states: &[usize]) -> Option<&str> {
        self.paths
            .iter()
            .find(|p| p.alternatives.iter().any(|a| a == states))
            .map(|p| p.name.as_str())
    }
}

fn build(file: SpecFile, channels: Vec<ChannelFile>, p: &mut Problems) -> FlowSpec {
    let states: Vec<State> = file
        .states
        .iter()
        .map(|(name, value)| {
            let (selector, channel) = state_entry(name, value, &channels, p);
            State {
                name: name.clone(),
                selector,
                branch: None,
                channel,
            }
        })
        .collect();
    if states.is_empty() {
        p.add("states", "a flow needs at least one state");
    }
    let find = |key: &str, name: &str, p: &mut Problems| -> Option<usize> {
        let found = states.iter().position(|s| s.name == name);
        if found.is_none() {
            let known: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
            p.add(key, format!("unknown state {name:?} (states: {})", known.join(", ")));
        }
        found
    };
    let list = |key: &str, names: &[String], p: &mut Problems| -> Vec<usize> {
        names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| find(&format!("{key}[{i}]"), n, p))
            .collect()
    };
    let start = list("flow.start", &file.flow.start, p);
    let end = list("flow.end", &file.flow.end, p);
    let restart_after = list("flow.restart_after", &file.flow.restart_after, p);
    let mut transitions = vec![Vec::new(); states.len()];
    for (from, targets) in &file.transitions {
        let Some(f) = find(&format!("transitions.{from}"), from, p) else {
            continue;
        };
        for (to, weight) in targets {
            if let Some(t) = find(&format!("transitions.{from}.{to}"), to, p) {
                transitions[f].push((t, *weight));
            }
        }
    }
    for (i, s) in states.iter().enumerate() {
        if transitions[i].is_empty() && !end.contains(&i) {
            p.add(
                &format!("transitions.{}", s.name),
                format!(
                    "state {:?} is not an end state and has no transitions: flows would stop nowhere",
                    s.name
                ),
            );
        }
    }
    // Every end state must be reachable from a start state.
    let mut reached: Vec<usize> = start.clone();
    let mut i = 0;
    while i < reached.len() {
        for (t, _) in &transitions[reached[i]] {
            if !reached.contains(t) {
                reached.push(*t);
            }
        }
        i += 1;
    }
    for (k, e) in end.iter().enumerate() {
        if !reached.contains(e) {
            p.add(
                &format!("flow.end[{k}]"),
                format!("end state {:?} cannot be reached from a start state", states[*e].name),
            );
        }
    }
    let mut paths = Vec::new();
    for (name, def) in &file.paths {
        let raw: Vec<Vec<String>> = match def {
            PathFile::One(l) => vec![l.clone()],
            PathFile::Many(l) => l.clone(),
        };
        let mut alternatives = Vec::new();
        for (a, seq) in raw.iter().enumerate() {
            let key = format!("paths.{name}[{a}]");
            let ids = list(&key, seq, p);
            if ids.len() != seq.len() {
                continue;
            }
            if !ids.first().is_some_and(|s| start.contains(s)) {
                p.add(&key, "a path must begin with a start state");
            } else if !ids.last().is_some_and(|s| end.contains(s)) {
                p.add(&key, "a path must finish in an end state");
            } else if let Some(w) = ids
                .windows(2)
                .find(|w| !transitions[w[0]].iter().any(|(t, _)| *t == w[1]))
            {
                p.add(
                    &key,
                    format!(
                        "{} → {} is not an allowed transition",
                        states[w[0]].name, states[w[1]].name
                    ),
                );
            }
            alternatives.push(ids);
        }
        paths.push(PathDef {
            name: name.clone(),
            alternatives,
        });
    }
    if file.paths.is_empty() {
        paths = derived_paths(&states, &start, &end, &transitions);
        if paths.is_empty() && !start.is_empty() && !end.is_empty() {
            p.add(
                "paths",
                "no path without repeats leads from a start to an end state: give [paths]",
            );
        }
    }
    let restart_path = file.flow.restart_path.as_ref().and_then(|r| {
        let found = paths.iter().position(|x| &x.name == r);
        if found.is_none() {
            p.add("flow.restart_path", format!("unknown path {r:?}"));
        }
        found
    });
    let resolver = Resolver::new(&channels, &states, p);
    let keys: Vec<Option<String>> = channels.iter().map(|c| c.key.clone()).collect();
    let key = resolver.every_per_topic("key", &file.key, &keys, p);
    if file.key.trim().is_empty() {
        p.add(
            "key",
            "name the field the message key is, as a path (\"orderId\", \"meta.accountId\")",
        );
    }
    if file.flow.id.list().iter().any(|i| i.trim().is_empty()) {
        p.add(
            "flow.id",
            "name the field that identifies a flow, as a path (\"orderId\")",
        );
    }
    if file.flow.id_header.as_deref().is_some_and(|h| h.trim().is_empty()) {
        p.add("flow.id_header", "give the header's name, or leave id_header out");
    }
    let ids = file.flow.id.list();
    let flow_id = ids
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let per_topic: Vec<Option<String>> = channels
                .iter()
                .map(|c| c.id.as_ref().and_then(|ids| ids.get(i).cloned()))
                .collect();
            resolver.every_per_topic(&format!("flow.id[{i}]"), f, &per_topic, p)
        })
        .collect();
    for c in &channels {
        if c.id.as_ref().is_some_and(|own| own.len() != ids.len()) {
            p.add(
                &format!("topics.{}.id", c.topic),
                format!("give as many id fields as flow.id ({})", ids.len()),
            );
        }
    }
    let skew = file.flow.cross_topic_skew.as_ref().map_or(0, |s| {
        crate::generate::time::parse_duration_ms(s)
            .map_err(|e| p.add("flow.cross_topic_skew", e))
            .unwrap_or(0)
    });
    let invariants = resolver.some_of("flow.invariants", &file.flow.invariants, p);
    let unique = resolver.some_of("flow.unique", &file.flow.unique, p);
    let timing = file.timing.as_ref().map(|t| resolver.timing(t, p));
    let references = file
        .references
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let key = format!("references[{i}]");
            let state = find(&format!("{key}.state"), &r.state, p)?;
            let target_state = find(&format!("{key}.target_state"), &r.target_state, p)?;
            Some(Reference {
                state,
                field: resolver.in_state(&format!("{key}.field"), &r.field, state, p),
                target_state,
                target_field: resolver.in_state(&format!("{key}.target_field"), &r.target_field, target_state, p),
            })
        })
        .collect();
    let sources = resolver.sources();
    let branches = resolver.branches();
    if channels.len() > 1 {
        let timed = |s: usize| {
            timing
                .as_ref()
                .is_some_and(|t| t.states[s].is_some() || t.monotonic.iter().any(|m| m.field.at(s).is_some()))
        };
        for (s, state) in states.iter().enumerate() {
            if !timed(s) {
                p.add(
                    &format!("states.{}", state.name),
                    "a flow across topics orders its events by their times: give this state a time field in [timing.states] or timing.monotonic",
                );
            }
        }
    }
    let channels: Vec<Channel> = channels
        .into_iter()
        .zip(sources)
        .map(|(c, state_source)| Channel {
            records: c.state.record == Some(true),
            partitions: c.partitions,
            topic: c.topic,
            schema: c.schema,
            state_source,
        })
        .collect();
    let first = &channels[0];
    let (schema, topic, state_source) = (first.schema.clone(), first.topic.clone(), first.state_source.clone());
    let mut spec = FlowSpec {
        name: file.name,
        description: file.description,
        schema,
        topic,
        key,
        state_source,
        states,
        flow_id,
        id_header: file.flow.id_header.clone(),
        start,
        end,
        restart_after,
        restart_path,
        transitions,
        paths,
        invariants,
        unique,
        incomplete: file.flow.incomplete.unwrap_or(Severity::Warning),
        timing,
        references,
        channels,
        cross_topic_skew_ms: skew,
        source: Value::Null,
    };
    for (state, branch) in spec.states.iter_mut().zip(branches) {
        state.branch = branch;
    }
    spec
}

/// Paths for a spec that names none: every way from a start state to an
/// end state that visits no state twice (at most 32), each named by its
/// states (`created-issued-paid`).
fn derived_paths(states: &[State], start: &[usize], end: &[usize], transitions: &[Vec<(usize, u32)>]) -> Vec<PathDef> {
    const MAX: usize = 32;
    fn walk(
        at: usize,
        trail: &mut Vec<usize>,
        end: &[usize],
        transitions: &[Vec<(usize, u32)>],
        found: &mut Vec<Vec<usize>>,
    ) {
        if found.len() >= MAX {
            return;
        }
        trail.push(at);
        if end.contains(&at) {
            found.push(trail.clone());
        }
        for (next, _) in transitions.get(at).map(Vec::as_slice).unwrap_or_default() {
            if !trail.contains(next) {
                walk(*next, trail, end, transitions, found);
            }
        }
        trail.pop();
    }
    let mut found = Vec::new();
    for s in start {
        walk(*s, &mut Vec::new(), end, transitions, &mut found);
    }
    found
        .into_iter()
        .map(|states_of| PathDef {
            name: states_of
                .iter()
                .map(|i| states[*i].name.to_lowercase())
                .collect::<Vec<_>>()
                .join("-"),
            alternatives: vec![states_of],
        })
        .collect()
}

/// The spec file path for a `--flow` argument: a path, or a name under `flows/`.
pub fn spec_path(arg: &str) -> PathBuf {
    if arg.contains('/') || arg.ends_with(".toml") {
        PathBuf::from(arg)
    } else {
        PathBuf::from(format!("flows/{arg}.toml"))
    }
}

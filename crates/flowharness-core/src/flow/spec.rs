//! Flow specs: declarative contracts over sequences of messages, in TOML
//! files under `flows/`. The format is documented in the README. Every
//! rejection names the file and the key (TOML syntax errors, the line).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::path::MsgPath;
pub(super) use super::spec_file::{ChannelFile, StateTimingFile, TimingFile};
use super::spec_file::{SpecFile, channels_of};
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
    /// Which member of a Protobuf `oneof` is set (`state = { union =
    /// "event" }` on a `.proto`): `holder` is the message holding the
    /// oneof (empty for the root), `members` its field names; a state's
    /// short field paths are inside its member's message.
    Oneof {
        holder: MsgPath,
        name: String,
        members: Vec<String>,
    },
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

    /// As [`FieldRef::set`], copying `new` into the place (a string there
    /// keeps its buffer).
    pub fn set_from(&self, value: &mut Value, state: usize, new: &Value) -> bool {
        match self.at(state) {
            Some(p) => {
                p.set_from(value, new);
                true
            }
            None => false,
        }
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
    pub(crate) name: String,
    pub(crate) description: String,
    /// The first topic's schema, topic and state source; a flow on one
    /// topic has no other. See [`FlowSpec::channels`].
    pub(crate) schema: Schema,
    pub(crate) topic: String,
    pub(crate) key: FieldRef,
    pub(crate) state_source: StateSource,
    pub(crate) states: Vec<State>,
    pub(crate) flow_id: Vec<FieldRef>,
    /// The header every message of a flow carries one correlation id in,
    /// where the contract says (`[flow] id_header`; AsyncAPI's header
    /// `correlationId`): generated messages carry their flow id there, and
    /// the checker finds messages without it or whose value differs from
    /// what the flow's first message carried.
    pub(crate) id_header: Option<String>,
    pub(crate) start: Vec<usize>,
    pub(crate) end: Vec<usize>,
    pub(crate) restart_after: Vec<usize>,
    pub(crate) restart_path: Option<usize>,
    /// Per state: allowed next states with their generation weights.
    pub(crate) transitions: Vec<Vec<(usize, u32)>>,
    pub(crate) paths: Vec<PathDef>,
    pub(crate) invariants: Vec<FieldRef>,
    pub(crate) unique: Vec<FieldRef>,
    pub(crate) incomplete: Severity,
    pub(crate) timing: Option<Timing>,
    pub(crate) references: Vec<Reference>,
    /// Every topic of the flow, in name order (one for most flows).
    pub(crate) channels: Vec<Channel>,
    /// How far producers' clocks may disagree across topics: events of a
    /// flow on different topics are put in time order, and one may arrive
    /// this much later than a later one on another topic.
    pub(crate) cross_topic_skew_ms: i64,
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
        let mut spec = super::spec_build::build(file, channels, &mut p);
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
            StateSource::Oneof { holder, name, members } => {
                let Some(Value::Object(obj)) = holder.get(value).or(holder.text().is_empty().then_some(value)) else {
                    return Err(format!("no message holding oneof {name}"));
                };
                let set: Vec<&String> = members
                    .iter()
                    .filter(|m| obj.get(m.as_str()).is_some_and(|v| !v.is_null()))
                    .collect();
                let [member] = set[..] else {
                    return Err(format!("oneof {name} has {} members set, not one", set.len()));
                };
                match self
                    .states
                    .iter()
                    .position(|s| on(&s) && s.branch.as_deref() == Some(member.as_str()))
                {
                    Some(i) => Ok(i),
                    None => Err(format!("{name} = {member} is not a state of flow {}", self.name)),
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
        self.flow_id_ref(value, state).map(std::borrow::Cow::into_owned)
    }

    /// As [`FlowSpec::flow_id_of`], borrowing a one-field id's text from the value.
    pub fn flow_id_ref<'v>(&self, value: &'v Value, state: usize) -> Option<std::borrow::Cow<'v, str>> {
        // One field (most flows): its text, without a list to join.
        if let [field] = self.flow_id.as_slice() {
            return field.get(value, state).map(super::fields::text_ref);
        }
        let parts: Option<Vec<std::borrow::Cow<'v, str>>> = self
            .flow_id
            .iter()
            .map(|f| f.get(value, state).map(super::fields::text_ref))
            .collect();
        parts.map(|p| std::borrow::Cow::Owned(p.join("/")))
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
        self.key_ref(value, state).map(std::borrow::Cow::into_owned)
    }

    /// As [`FlowSpec::key_of`], borrowing the text from the value.
    pub fn key_ref<'v>(&self, value: &'v Value, state: usize) -> Option<std::borrow::Cow<'v, str>> {
        self.key.get(value, state).map(super::fields::text_ref)
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

    /// Which named path a completed sequence of states took, if any (the
    /// states as the checker keeps them).
    pub fn path_taken(&self, states: &[u16]) -> Option<&str> {
        self.paths
            .iter()
            .find(|p| {
                p.alternatives
                    .iter()
                    .any(|a| a.len() == states.len() && a.iter().zip(states).all(|(x, y)| *x == usize::from(*y)))
            })
            .map(|p| p.name.as_str())
    }
}

/// The spec file path for a `--flow` argument: a path, or a name under `flows/`.
pub fn spec_path(arg: &str) -> PathBuf {
    if arg.contains('/') || arg.ends_with(".toml") {
        PathBuf::from(arg)
    } else {
        PathBuf::from(format!("flows/{arg}.toml"))
    }
}

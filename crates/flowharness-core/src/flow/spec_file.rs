//! The flow spec file as written (TOML), before it is checked: the tables
//! a spec may have, and the topics it names with their schemas loaded.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::spec::{Problems, Severity};
use crate::error::{Diagnostic, Error, Result};
use crate::schema::Schema;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpecFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    pub(super) schema: Option<String>,
    pub(super) topic: Option<String>,
    pub(super) key: String,
    pub(super) state: Option<StateFile>,
    /// A flow across topics: each topic's schema, state and paths.
    #[serde(default)]
    pub(super) topics: BTreeMap<String, TopicFile>,
    pub(super) states: BTreeMap<String, Value>,
    pub(super) flow: FlowFile,
    #[serde(default)]
    pub(super) transitions: BTreeMap<String, BTreeMap<String, u32>>,
    #[serde(default)]
    pub(super) paths: BTreeMap<String, PathFile>,
    pub(super) timing: Option<TimingFile>,
    #[serde(default)]
    pub(super) references: Vec<ReferenceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TopicFile {
    pub(super) schema: String,
    pub(super) state: StateFile,
    /// This topic's path to the key, where it is not the spec's `key`.
    pub(super) key: Option<String>,
    /// This topic's paths to the flow id, where they are not `flow.id`.
    pub(super) id: Option<OneOrMany>,
    /// How many partitions the topic should have.
    pub(super) partitions: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateFile {
    pub(super) union: Option<String>,
    pub(super) field: Option<String>,
    /// The state is the record type of the writer schema: the schema is a
    /// union of records, each registered on its own (topic-record subjects).
    pub(super) record: Option<bool>,
    /// Every message on the topic is the topic's one state.
    pub(super) single: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlowFile {
    pub(super) id: OneOrMany,
    pub(super) start: Vec<String>,
    pub(super) end: Vec<String>,
    #[serde(default)]
    pub(super) restart_after: Vec<String>,
    pub(super) restart_path: Option<String>,
    #[serde(default)]
    pub(super) invariants: Vec<String>,
    #[serde(default)]
    pub(super) unique: Vec<String>,
    pub(super) incomplete: Option<Severity>,
    /// How far producers' clocks may disagree across topics.
    pub(super) cross_topic_skew: Option<String>,
    /// A header every message of a flow carries one correlation id in (AsyncAPI's
    /// `correlationId` at `$message.header#/NAME`).
    pub(super) id_header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum PathFile {
    One(Vec<String>),
    Many(Vec<Vec<String>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimingFile {
    pub(super) anchor: Option<String>,
    pub(super) anchor_unit: Option<String>,
    #[serde(default)]
    pub(super) monotonic: Vec<String>,
    #[serde(default)]
    pub(super) states: BTreeMap<String, StateTimingFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateTimingFile {
    pub(super) field: String,
    pub(super) unit: Option<String>,
    pub(super) at: Option<String>,
    pub(super) within: Option<String>,
    pub(super) before: Option<String>,
    pub(super) after: Option<String>,
    pub(super) after_previous: Option<String>,
    pub(super) within_previous: Option<String>,
    pub(super) after_start: Option<String>,
    pub(super) within_start: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReferenceFile {
    pub(super) state: String,
    pub(super) field: String,
    pub(super) target_state: String,
    pub(super) target_field: String,
}

/// The topics a spec's messages live on, with their schemas loaded.
pub(super) fn channels_of(file: &SpecFile, load_schema: &dyn Fn(&str) -> Result<Schema>) -> Result<Vec<ChannelFile>> {
    if file.topics.is_empty() {
        let missing: Vec<&str> = [
            ("schema", file.schema.is_none()),
            ("topic", file.topic.is_none()),
            ("[state]", file.state.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(k, _)| *k)
        .collect();
        if !missing.is_empty() {
            return Err(Error::invalid(Diagnostic::new(format!(
                "give {} (or a [topics.NAME] table per topic)",
                missing.join(", ")
            ))));
        }
        let (Some(schema), Some(topic), Some(state)) = (&file.schema, &file.topic, &file.state) else {
            return Err(Error::invalid(Diagnostic::new("give schema, topic and [state]")));
        };
        let schema = load_schema(schema).map_err(|e| e.within("schema"))?;
        return Ok(vec![ChannelFile {
            topic: topic.clone(),
            schema,
            state: state.clone(),
            key: None,
            id: None,
            partitions: None,
        }]);
    }
    if file.schema.is_some() || file.topic.is_some() || file.state.is_some() {
        return Err(Error::invalid(
            Diagnostic::new("with [topics.NAME] tables, give schema and state per topic, not at the top")
                .within("topics"),
        ));
    }
    file.topics
        .iter()
        .map(|(name, t)| {
            let schema = load_schema(&t.schema).map_err(|e| e.within(&format!("topics.{name}.schema")))?;
            Ok(ChannelFile {
                topic: name.clone(),
                schema,
                state: t.state.clone(),
                key: t.key.clone(),
                id: t.id.as_ref().map(OneOrMany::list),
                partitions: t.partitions,
            })
        })
        .collect()
}

/// One topic of a spec, its schema loaded.
pub(super) struct ChannelFile {
    pub(super) topic: String,
    pub(super) schema: Schema,
    pub(super) state: StateFile,
    pub(super) key: Option<String>,
    pub(super) id: Option<Vec<String>>,
    pub(super) partitions: Option<u32>,
}

/// How a state is written: its selector, and with several topics, its topic.
pub(super) fn state_entry(name: &str, value: &Value, channels: &[ChannelFile], p: &mut Problems) -> (Value, usize) {
    let key = format!("states.{name}");
    match value {
        Value::Object(table) => {
            let channel = match table.get("topic").and_then(Value::as_str) {
                Some(t) => channels.iter().position(|c| c.topic == t).unwrap_or_else(|| {
                    let known: Vec<&str> = channels.iter().map(|c| c.topic.as_str()).collect();
                    p.add(
                        &format!("{key}.topic"),
                        format!("unknown topic {t:?} (topics: {})", known.join(", ")),
                    );
                    0
                }),
                None if channels.len() == 1 => 0,
                None => {
                    p.add(&key, "name the state's topic: { topic = \"...\", is = \"...\" }");
                    0
                }
            };
            let single = channels.get(channel).is_some_and(|c| c.state.single == Some(true));
            let selector = match (table.get("is"), single) {
                (Some(v), false) => v.clone(),
                (None, false) => {
                    p.add(&key, "give the state's branch or value as is = \"...\"");
                    Value::Null
                }
                (Some(_), true) => {
                    p.add(
                        &format!("{key}.is"),
                        "the topic's state is single (every message on it is this state): remove is",
                    );
                    Value::Null
                }
                (None, true) => Value::Null,
            };
            if let Some(extra) = table.keys().find(|k| *k != "is" && *k != "topic") {
                p.add(&key, format!("unknown key {extra:?}: a state has topic and is"));
            }
            (selector, channel)
        }
        other if channels.len() > 1 => {
            p.add(
                &key,
                format!("with several topics, name the state's topic: {{ topic = \"...\", is = {other} }}"),
            );
            (other.clone(), 0)
        }
        other if channels.first().is_some_and(|c| c.state.single == Some(true)) => {
            p.add(
                &key,
                format!(
                    "the topic's state is single (every message on it is this state): write {name} = {{}}, not {other}"
                ),
            );
            (Value::Null, 0)
        }
        other => (other.clone(), 0),
    }
}

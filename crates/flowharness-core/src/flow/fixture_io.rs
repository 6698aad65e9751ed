//! Flows and fixture files: a fixture's messages as observed messages (for
//! `verify --file`), and generated messages as a fixture in the seed's
//! format (for `generate --out`).

use crate::num::Cast as _;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::FlowSpec;
use super::checker::Observed;
use crate::fixture::{Entry, Fixture, SchemaSource};
use crate::schema::Schema;

/// The messages of a fixture in file order, numbered per partition as a
/// broker would; an entry without a partition is on partition 0.
pub fn observed(fixture: &Fixture) -> Vec<Observed> {
    let mut numbering = Numbering::default();
    let mut out = Vec::new();
    for entry in &fixture.entries {
        numbering.each(entry, &mut |o| out.push(o));
    }
    out
}

/// `verify --file`: checks a fixture against the flow entry by entry as it
/// is read, holding no entries (memory follows the checker's open flows).
pub fn check_file(
    spec: &FlowSpec,
    path: &std::path::Path,
    options: super::checker::CheckOptions,
) -> crate::error::Result<super::checker::Report> {
    let mut checker = super::checker::Checker::new(spec, options);
    let mut numbering = Numbering::default();
    // The checker validates each message against the flow's schema and
    // reports what fails, so the reader does not validate them too.
    Fixture::visit_unchecked_returning(path, &mut |entry, done| {
        numbering.each_owned(entry, &mut |m| {
            checker.observe(&m);
            if let Ok(value) = m.value {
                done.push(value);
            }
        });
    })?;
    Ok(checker.finish())
}

/// An entry's key as text, as a producer sends it (`None` for `null`).
pub fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The keyed messages of a fixture file whose key `wanted` takes, in file
/// order, read entry by entry (schema-invalid messages included): the
/// flows a finding names, or a saved case.
pub fn keyed_messages(path: &std::path::Path, wanted: &dyn Fn(&str) -> bool) -> crate::error::Result<Vec<Keyed>> {
    let mut out = Vec::new();
    Fixture::visit_unchecked(path, &mut |entry| {
        let Some(key) = key_text(&entry.key) else { return };
        if wanted(&key) {
            let topic: Arc<str> = Arc::from(entry.topic.as_str());
            out.extend(entry.messages.iter().map(|m| Keyed {
                key: key.clone(),
                value: m.clone(),
                topic: Some(topic.clone()),
                headers: entry.headers.clone(),
            }));
        }
    })?;
    Ok(out)
}

/// Numbers a fixture's messages per topic and partition as a broker would,
/// entry by entry, so a fixture can be checked as it is read.
#[derive(Debug, Default)]
pub struct Numbering {
    next: HashMap<(Arc<str>, i32), i64>,
    topics: Vec<Arc<str>>,
}

impl Numbering {
    /// Hands on the messages of one entry, in order; an entry without a
    /// partition is on partition 0.
    pub fn each(&mut self, entry: &Entry, out: &mut dyn FnMut(Observed)) {
        self.number(entry, entry.messages.iter().cloned(), out);
    }

    /// As [`Numbering::each`], moving the messages out of the entry
    /// instead of copying them (a reader that drops the entry after).
    pub fn each_owned(&mut self, mut entry: Entry, out: &mut dyn FnMut(Observed)) {
        let messages = std::mem::take(&mut entry.messages);
        self.number(&entry, messages.into_iter(), out);
    }

    fn number(&mut self, entry: &Entry, messages: impl Iterator<Item = Value>, out: &mut dyn FnMut(Observed)) {
        let partition = entry.partition.unwrap_or(0);
        let topic = match self.topics.iter().find(|t| ***t == *entry.topic) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = Arc::from(entry.topic.as_str());
                self.topics.push(t.clone());
                t
            }
        };
        let key = key_text(&entry.key);
        for message in messages {
            let offset = self.next.entry((topic.clone(), partition)).or_insert(0);
            out(Observed {
                topic: Some(topic.clone()),
                record: None,
                partition,
                offset: *offset,
                key: key.clone(),
                value: Ok(message),
                headers: entry.headers.clone(),
            });
            *offset += 1;
        }
    }
}

/// A message to produce: its key and value, and for a flow across topics
/// the topic (the spec's name for it).
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed {
    pub key: String,
    pub value: Value,
    pub topic: Option<Arc<str>>,
    /// Headers the contract puts on it: the flow id in `[flow] id_header`.
    pub headers: Vec<(String, String)>,
}

/// Messages as a fixture: one entry per run of messages with the same key,
/// in order, so the interleaving survives in the seed's format. Partitions
/// are left to the producer's partitioner (`null`).
pub fn to_fixture(schema: &Schema, topic: &str, messages: &[Keyed]) -> Fixture {
    let channels = [(topic.to_string(), Arc::new(schema.clone()))];
    fixture_of(&channels, messages)
}

/// Messages of a flow's topics as a fixture: each entry on its message's
/// topic (`topic` renames a flow's only topic), with that topic's schema.
pub fn to_fixture_of(spec: &FlowSpec, topic: Option<&str>, messages: &[Keyed]) -> Fixture {
    let channels: Vec<(String, Arc<Schema>)> = spec
        .channels
        .iter()
        .map(|c| {
            let name = match topic {
                Some(t) if !spec.is_multi_topic() => t.to_string(),
                _ => c.topic.clone(),
            };
            (name, Arc::new(c.schema.clone()))
        })
        .collect();
    fixture_of_spec(spec, &channels, messages)
}

fn fixture_of_spec(spec: &FlowSpec, channels: &[(String, Arc<Schema>)], messages: &[Keyed]) -> Fixture {
    let mut entries: Vec<Entry> = Vec::new();
    for m in messages {
        let c = m.topic.as_deref().and_then(|t| spec.channel_of(t)).unwrap_or(0);
        push(&mut entries, &channels[c], m);
    }
    Fixture { entries }
}

fn fixture_of(channels: &[(String, Arc<Schema>)], messages: &[Keyed]) -> Fixture {
    let mut entries: Vec<Entry> = Vec::new();
    for m in messages {
        push(&mut entries, &channels[0], m);
    }
    Fixture { entries }
}

fn push(entries: &mut Vec<Entry>, (topic, schema): &(String, Arc<Schema>), m: &Keyed) {
    match entries.last_mut() {
        Some(e) if e.key == Value::String(m.key.clone()) && e.topic == *topic && e.headers == m.headers => {
            e.messages.push(m.value.clone());
        }
        _ => entries.push(Entry {
            id: entries.len().to_string(),
            schema: schema.clone(),
            schema_source: SchemaSource::Inline,
            topic: topic.clone(),
            partition: None,
            key: Value::String(m.key.clone()),
            headers: m.headers.clone(),
            messages: vec![m.value.clone()],
        }),
    }
}

/// Messages as a consumer of a topic with `partitions` partitions would
/// observe them: keys spread by a stable hash, offsets per partition.
pub fn as_observed(messages: &[Keyed], partitions: i32) -> Vec<Observed> {
    let mut next: HashMap<(Option<Arc<str>>, i32), i64> = HashMap::new();
    messages
        .iter()
        .map(|m| {
            let hash = m
                .key
                .bytes()
                .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
            let partition = (hash % partitions.max(1).sat_u32()).sat_i32();
            let offset = next.entry((m.topic.clone(), partition)).or_insert(0);
            let observed = Observed {
                topic: m.topic.clone(),
                record: None,
                partition,
                offset: *offset,
                key: Some(m.key.clone()),
                value: Ok(m.value.clone()),
                headers: m.headers.clone(),
            };
            *offset += 1;
            observed
        })
        .collect()
}

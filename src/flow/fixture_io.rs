//! Flows and fixture files: a fixture's messages as observed messages (for
//! `verify --file`), and generated messages as a fixture in the seed's
//! format (for `generate --out`).

use std::collections::HashMap;

use serde_json::Value;

use super::checker::Observed;
use crate::fixture::{Entry, Fixture, SchemaSource};
use crate::schema::Schema;

/// The messages of a fixture in file order, numbered per partition as a
/// broker would; an entry without a partition is on partition 0.
pub fn observed(fixture: &Fixture) -> Vec<Observed> {
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut out = Vec::new();
    for entry in &fixture.entries {
        let partition = entry.partition.unwrap_or(0);
        let key = match &entry.key {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
        for message in &entry.messages {
            let offset = next.entry(partition).or_insert(0);
            out.push(Observed {
                partition,
                offset: *offset,
                key: key.clone(),
                value: Ok(message.clone()),
            });
            *offset += 1;
        }
    }
    out
}

/// A message to produce: its key and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed {
    pub key: String,
    pub value: Value,
}

/// Messages as a fixture: one entry per run of messages with the same key,
/// in order, so the interleaving survives in the seed's format. Partitions
/// are left to the producer's partitioner (`null`).
pub fn to_fixture(schema: &Schema, topic: &str, messages: &[Keyed]) -> Fixture {
    let mut entries: Vec<Entry> = Vec::new();
    let schema = std::sync::Arc::new(schema.clone());
    for m in messages {
        match entries.last_mut() {
            Some(e) if e.key == Value::String(m.key.clone()) => e.messages.push(m.value.clone()),
            _ => entries.push(Entry {
                id: entries.len().to_string(),
                schema: schema.clone(),
                schema_source: SchemaSource::Inline,
                topic: topic.to_string(),
                partition: None,
                key: Value::String(m.key.clone()),
                messages: vec![m.value.clone()],
            }),
        }
    }
    Fixture { entries }
}

/// Messages as a consumer of a topic with `partitions` partitions would
/// observe them: keys spread by a stable hash, offsets per partition.
pub fn as_observed(messages: &[Keyed], partitions: i32) -> Vec<Observed> {
    let mut next: HashMap<i32, i64> = HashMap::new();
    messages
        .iter()
        .map(|m| {
            let hash = m
                .key
                .bytes()
                .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
            let partition = (hash % partitions.max(1) as u32) as i32;
            let offset = next.entry(partition).or_insert(0);
            let observed = Observed {
                partition,
                offset: *offset,
                key: Some(m.key.clone()),
                value: Ok(m.value.clone()),
            };
            *offset += 1;
            observed
        })
        .collect()
}

//! What flowharness takes from an AsyncAPI 2.x or 3.0 document: channels
//! as topics, messages with their payload schemas, the Kafka bindings,
//! correlation ids, examples and operations.

use crate::num::Cast as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::document::{Files, Place, unescape};
use super::message::read_message;
use crate::error::{Error, Result};
use crate::schema::Schema;

/// The AsyncAPI versions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 2.0 to 2.6: operations inside channels (`publish`, `subscribe`).
    V2,
    /// 3.0: channels with an `address` and messages, operations apart.
    V3,
}

/// A parsed AsyncAPI document.
#[derive(Debug)]
pub struct Document {
    pub path: PathBuf,
    pub version: Version,
    /// The `asyncapi` field as written.
    pub version_text: String,
    pub title: String,
    pub description: String,
    pub channels: Vec<Channel>,
    pub operations: Vec<Operation>,
    /// The `x-flowharness` extension: the overlay's tables, when inline.
    pub overlay: Option<Value>,
}

/// A channel: one Kafka topic.
#[derive(Debug)]
pub struct Channel {
    /// The channel's id (3.0) or name (2.x).
    pub id: String,
    pub topic: String,
    pub place: Place,
    /// From the Kafka channel binding, where given.
    pub partitions: Option<u32>,
    pub messages: Vec<Message>,
}

/// The format of a message payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Avro,
    JsonSchema,
}

/// Where a correlation id lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlation {
    /// A payload field, as a flow field path (`order.id`).
    Payload(String),
    /// A header by name.
    Header(String),
}

/// A message: one payload schema.
#[derive(Debug)]
pub struct Message {
    pub name: String,
    pub place: Place,
    pub format: Format,
    /// The payload schema with every `$ref` inlined.
    pub payload: Value,
    pub schema: Schema,
    /// The Kafka message binding's key schema, where given.
    pub key: Option<Value>,
    pub correlation: Option<(Correlation, Place)>,
    /// Confluent's `schemaIdLocation` (`payload` or `header`), where given.
    pub schema_id_location: Option<String>,
    /// Confluent's `schemaLookupStrategy`, where given.
    pub schema_lookup: Option<String>,
    pub examples: Vec<Example>,
}

/// A message example.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: Option<String>,
    pub place: Place,
    pub payload: Value,
    pub headers: Map<String, Value>,
}

/// Who sends what: an operation of the application the document describes.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    /// `send` or `receive` (2.x: `subscribe` is send, `publish` receive).
    pub action: String,
    pub channel: String,
    pub messages: Vec<String>,
    /// 3.0: the channel a reply goes to (request/reply).
    pub reply: Option<String>,
}

impl Document {
    /// Reads and checks a document and everything it refers to.
    pub fn load(path: &Path) -> Result<Document> {
        let mut files = Files::default();
        let root_place = Place {
            file: path.to_path_buf(),
            pointer: String::new(),
        };
        let root = files.get(path)?.clone();
        let Some(obj) = root.as_object() else {
            return Err(root_place.error("an AsyncAPI document is a mapping at the top"));
        };
        let version_text = match obj.get("asyncapi") {
            Some(Value::String(v)) => v.clone(),
            Some(other) => {
                return Err(root_place
                    .child("asyncapi")
                    .error(format!("expected a version string, found {other}")));
            }
            None => return Err(root_place.error("no `asyncapi` field: not an AsyncAPI document")),
        };
        let version = version_of(&version_text).ok_or_else(|| {
            root_place.child("asyncapi").error(format!(
                "unsupported AsyncAPI version {version_text:?}: flowharness reads 2.0 to 2.6 and 3.0"
            ))
        })?;
        let info = obj.get("info").and_then(Value::as_object);
        let text = |k: &str| {
            info.and_then(|i| i.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut doc = Document {
            path: path.to_path_buf(),
            version,
            version_text,
            title: text("title"),
            description: text("description"),
            channels: Vec::new(),
            operations: Vec::new(),
            overlay: obj.get("x-flowharness").cloned(),
        };
        let channels = obj
            .get("channels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if channels.is_empty() {
            return Err(root_place
                .child("channels")
                .error("no channels: nothing to produce or check"));
        }
        let mut problems = Vec::new();
        for (id, value) in &channels {
            let place = root_place.child("channels").child(id);
            let read = match version {
                Version::V2 => read_channel_v2(&mut files, id, value, place, &mut doc.operations),
                Version::V3 => read_channel_v3(&mut files, id, value, place),
            };
            match read {
                Ok(channel) => doc.channels.push(channel),
                Err(e) => problems.extend(e.diagnostics()),
            }
        }
        if version == Version::V3 {
            match read_operations_v3(&mut files, obj, &root_place) {
                Ok(ops) => doc.operations = ops,
                Err(e) => problems.extend(e.diagnostics()),
            }
        }
        if problems.is_empty() {
            Ok(doc)
        } else {
            Err(Error::Invalid(problems))
        }
    }

    /// Every message with its channel.
    pub fn messages(&self) -> impl Iterator<Item = (&Channel, &Message)> {
        self.channels
            .iter()
            .flat_map(|c| c.messages.iter().map(move |m| (c, m)))
    }
}

/// Whether a file is an AsyncAPI document: YAML or JSON with an
/// `asyncapi` field at the top. Reads only the file's beginning.
pub fn is_asyncapi(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "yaml" | "yml" | "json") {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.lines()
        .take(50)
        .any(|l| l.trim_start().starts_with("asyncapi:") || l.contains("\"asyncapi\""))
}

fn version_of(text: &str) -> Option<Version> {
    let mut parts = text.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    match (major, minor) {
        (2, 0..=6) => Some(Version::V2),
        (3, 0) => Some(Version::V3),
        _ => None,
    }
}

fn read_channel_v2(
    files: &mut Files,
    id: &str,
    value: &Value,
    place: Place,
    operations: &mut Vec<Operation>,
) -> Result<Channel> {
    let (value, place) = files.deref(value.clone(), place)?;
    let mut messages = Vec::new();
    let mut problems = Vec::new();
    for (verb, action) in [("subscribe", "send"), ("publish", "receive")] {
        let Some(op) = value.get(verb) else { continue };
        let op_place = place.child(verb);
        let (op, op_place) = files.deref(op.clone(), op_place)?;
        let Some(message) = op.get("message") else {
            return Err(op_place.error("an operation without a message"));
        };
        let msg_place = op_place.child("message");
        let (message, msg_place) = files.deref(message.clone(), msg_place)?;
        let alternatives: Vec<(Value, Place)> = match message.get("oneOf").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, m)| (m.clone(), msg_place.child("oneOf").child(&i.to_string())))
                .collect(),
            None => vec![(message.clone(), msg_place.clone())],
        };
        let mut names = Vec::new();
        for (m, p) in alternatives {
            match read_message(files, m, p, None) {
                Ok(msg) => {
                    names.push(msg.name.clone());
                    if !messages.iter().any(|k: &Message| k.place == msg.place) {
                        messages.push(msg);
                    }
                }
                Err(e) => problems.extend(e.diagnostics()),
            }
        }
        let op_id = op
            .get("operationId")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{verb} {id}"), str::to_string);
        operations.push(Operation {
            id: op_id,
            action: action.to_string(),
            channel: id.to_string(),
            messages: names,
            reply: None,
        });
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let kafka = value.pointer("/bindings/kafka");
    let parameters = value
        .get("parameters")
        .map(|p| files.inline(p, &place.child("parameters")))
        .transpose()?;
    let topic = kafka
        .and_then(|k| k.get("topic"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .map_or_else(|| address_topic(id, parameters.as_ref(), &place), Ok)?;
    if messages.is_empty() {
        return Err(place.error("a channel with no message (no publish or subscribe operation)"));
    }
    Ok(Channel {
        id: id.to_string(),
        topic,
        partitions: partitions_of(kafka, &place)?,
        place,
        messages,
    })
}

fn read_channel_v3(files: &mut Files, id: &str, value: &Value, place: Place) -> Result<Channel> {
    let (value, place) = files.deref(value.clone(), place)?;
    let kafka = value.pointer("/bindings/kafka");
    let address = match value.get("address") {
        Some(Value::String(a)) => a.clone(),
        None | Some(Value::Null) => id.to_string(),
        Some(other) => {
            return Err(place
                .child("address")
                .error(format!("expected a string, found {other}")));
        }
    };
    let parameters = value
        .get("parameters")
        .map(|p| files.inline(p, &place.child("parameters")))
        .transpose()?;
    let topic = kafka
        .and_then(|k| k.get("topic"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .map_or_else(|| address_topic(&address, parameters.as_ref(), &place), Ok)?;
    let list = value
        .get("messages")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return Err(place.child("messages").error("a channel with no messages"));
    }
    let mut messages = Vec::new();
    let mut problems = Vec::new();
    for (key, m) in &list {
        match read_message(files, m.clone(), place.child("messages").child(key), Some(key)) {
            Ok(msg) => messages.push(msg),
            Err(e) => problems.extend(e.diagnostics()),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    Ok(Channel {
        id: id.to_string(),
        topic,
        partitions: partitions_of(kafka, &place)?,
        place,
        messages,
    })
}

/// A channel address as a topic name. Parameters (`{id}`) take their
/// `default`, first `enum` value or first example, else their own name
/// (the binding's `topic` names the topic outright).
fn address_topic(address: &str, parameters: Option<&Value>, place: &Place) -> Result<String> {
    let mut out = String::new();
    let mut rest = address;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(place.error(format!("address {address:?} has an unclosed {{")));
        };
        let name = &rest[open + 1..open + close];
        let param = parameters.and_then(|p| p.get(name));
        let concrete = param.and_then(|p| {
            p.get("default")
                .or_else(|| p.pointer("/enum/0"))
                .or_else(|| p.pointer("/examples/0"))
                .or_else(|| p.pointer("/schema/default"))
                .or_else(|| p.pointer("/schema/enum/0"))
                .or_else(|| p.pointer("/schema/examples/0"))
        });
        match concrete {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            // No value to take: the parameter's name stands in, and
            // `asyncapi check` shows the topic so the user can see it.
            None => out.push_str(name),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(place.error("an empty channel address"));
    }
    Ok(out)
}

fn partitions_of(kafka: Option<&Value>, place: &Place) -> Result<Option<u32>> {
    match kafka.and_then(|k| k.get("partitions")) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0 && *n <= 100_000)
            .map(|n| Some(n.sat_u32()))
            .ok_or_else(|| {
                place
                    .child("bindings")
                    .child("kafka")
                    .child("partitions")
                    .error(format!("expected a positive number of partitions, found {v}"))
            }),
    }
}

fn read_operations_v3(files: &mut Files, root: &Map<String, Value>, root_place: &Place) -> Result<Vec<Operation>> {
    let mut out = Vec::new();
    let Some(ops) = root.get("operations").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (id, op) in ops {
        let place = root_place.child("operations").child(id);
        let (op, place) = files.deref(op.clone(), place)?;
        let action = match op.get("action").and_then(Value::as_str) {
            Some(a @ ("send" | "receive")) => a.to_string(),
            other => {
                return Err(place
                    .child("action")
                    .error(format!("expected send or receive, found {other:?}")));
            }
        };
        let channel = op
            .get("channel")
            .and_then(|c| c.get("$ref"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/channels/"))
            .map(unescape)
            .ok_or_else(|| place.child("channel").error("expected a $ref to #/channels/NAME"))?;
        if files.at(&root_place.child("channels").child(&channel)).is_err() {
            return Err(place
                .child("channel")
                .error(format!("$ref to channel {channel:?} is dangling")));
        }
        let messages = op
            .get("messages")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|m| m.get("$ref").and_then(Value::as_str))
                    .filter_map(|r| r.rsplit('/').next().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let reply = match op.get("reply") {
            Some(r) => {
                let (r, _) = files.deref(r.clone(), place.child("reply"))?;
                r.get("channel")
                    .and_then(|c| c.get("$ref"))
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/channels/"))
                    .map(str::to_string)
            }
            None => None,
        };
        out.push(Operation {
            id: id.clone(),
            action,
            channel,
            messages,
            reply,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_of("2.6.0"), Some(Version::V2));
        assert_eq!(version_of("2.0.0"), Some(Version::V2));
        assert_eq!(version_of("3.0.0"), Some(Version::V3));
        assert_eq!(version_of("3.1.0"), None);
        assert_eq!(version_of("1.2.0"), None);
        assert_eq!(version_of("x"), None);
    }

    #[test]
    fn addresses_with_parameters() {
        let place = Place {
            file: PathBuf::from("d.yaml"),
            pointer: "/channels/x".into(),
        };
        let params = serde_json::json!({"id": {"enum": ["eu", "us"]}, "v": {"default": "1"}});
        assert_eq!(
            address_topic("lights.{id}.v{v}", Some(&params), &place).unwrap(),
            "lights.eu.v1"
        );
        assert_eq!(
            address_topic("lights.{zone}", Some(&params), &place).unwrap(),
            "lights.zone"
        );
        let err = address_topic("lights.{zone", None, &place).unwrap_err().to_string();
        assert!(err.contains("d.yaml#/channels/x: "), "{err}");
    }
}

//! `flowharness asyncapi export --flow F`: a flow spec as an AsyncAPI 3.0
//! document. Each topic is a channel with one message (its schema, Avro or
//! JSON Schema), the correlation id where the flow id is a payload field,
//! the Kafka bindings, a `send` operation per channel, and the flow's own
//! tables as the `x-flowharness` extension, so importing the export gives
//! the same spec.

use serde_json::{Map, Value, json};

use super::document::escape;
use crate::flow::FlowSpec;
use crate::schema::Schema;

/// The Kafka bindings version written.
const KAFKA_BINDING: &str = "0.5.0";

/// A flow spec as an AsyncAPI 3.0 document.
pub fn document(spec: &FlowSpec) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let source = spec.source();
    let flow_ids = ids(source.pointer("/flow/id"));
    for channel in &spec.channels {
        let topic = &channel.topic;
        let name = message_name(&channel.schema, topic);
        let topic_ids = ids(source.pointer(&format!("/topics/{}/id", escape(topic))));
        let id_path = topic_ids.first().or(flow_ids.first()).cloned();
        let mut message = json!({
            "name": name,
            "title": format!("{name} on {topic}"),
            "payload": payload(&channel.schema, &format!("#/components/messages/{}/payload/schema", escape(&name))),
            "bindings": { "kafka": {
                "key": { "type": "string" },
                "schemaIdLocation": "payload",
                "bindingVersion": KAFKA_BINDING,
            }},
        });
        if let Some(header) = &spec.id_header {
            message["correlationId"] = json!({
                "description": "The flow id: every message of one flow carries it in this header.",
                "location": format!("$message.header#/{}", escape(header)),
            });
        } else if let Some(path) = id_path {
            let segments: Vec<String> = path.split('.').map(str::to_string).collect();
            if root_has(channel.schema.json(), &segments, &channel.schema) {
                message["correlationId"] = json!({
                    "description": "The flow id: every message of one flow carries it.",
                    "location": format!("$message.payload#/{}", segments.iter().map(|s| escape(s)).collect::<Vec<_>>().join("/")),
                });
            }
        }
        let key = escape(&name);
        messages.insert(name.clone(), message);
        channels.insert(
            topic.clone(),
            json!({
                "address": topic,
                "messages": { name.clone(): { "$ref": format!("#/components/messages/{key}") } },
                "bindings": { "kafka": kafka_channel(topic, channel.partitions) },
            }),
        );
        operations.insert(
            format!("send-{topic}"),
            json!({
                "action": "send",
                "channel": { "$ref": format!("#/channels/{}", escape(topic)) },
                "messages": [ { "$ref": format!("#/channels/{}/messages/{key}", escape(topic)) } ],
            }),
        );
    }
    let mut info = json!({ "title": spec.name, "version": "1.0.0" });
    if !spec.description.is_empty() {
        info["description"] = Value::String(spec.description.clone());
    }
    json!({
        "asyncapi": "3.0.0",
        "info": info,
        "channels": channels,
        "operations": operations,
        "components": { "messages": messages },
        "x-flowharness": overlay(source),
    })
}

/// The spec's tables without what the document itself says (schemas and
/// topics), in the per-topic form.
fn overlay(source: &Value) -> Value {
    let Value::Object(tables) = source else {
        return json!({});
    };
    let mut out = tables.clone();
    let topic = out.remove("topic");
    out.remove("schema");
    let state = out.remove("state");
    let mut topics = match out.remove("topics") {
        Some(Value::Object(t)) => t,
        _ => Map::new(),
    };
    if let (Some(Value::String(topic)), Some(state)) = (topic, state) {
        topics.insert(topic, json!({ "state": state }));
    }
    for t in topics.values_mut() {
        if let Value::Object(t) = t {
            t.remove("schema");
        }
    }
    out.insert("topics".into(), Value::Object(topics));
    Value::Object(out)
}

fn kafka_channel(topic: &str, partitions: Option<u32>) -> Value {
    let mut binding = json!({ "topic": topic, "bindingVersion": KAFKA_BINDING });
    if let Some(n) = partitions {
        binding["partitions"] = Value::from(n);
    }
    binding
}

fn ids(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A schema's own `$ref`s (`#/$defs/X`) point into the schema; inside the
/// document they must point at where the schema now is.
fn rebase(value: &Value, base: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) if r.starts_with("#/") => {
                        (k.clone(), Value::String(format!("{base}{}", &r[1..])))
                    }
                    _ => (k.clone(), rebase(v, base)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| rebase(v, base)).collect()),
        other => other.clone(),
    }
}

fn payload(schema: &Schema, at: &str) -> Value {
    match schema {
        Schema::Avro(_) => json!({
            "schemaFormat": "application/vnd.apache.avro;version=1.9.0",
            "schema": schema.json(),
        }),
        Schema::Json(_) => {
            let declared = schema.json().get("$schema").and_then(Value::as_str).unwrap_or("");
            let format = if declared.contains("draft-07") {
                "application/schema+json;version=draft-07"
            } else {
                "application/schema+json;version=2020-12"
            };
            json!({ "schemaFormat": format, "schema": rebase(schema.json(), at) })
        }
        // AsyncAPI's Protobuf format: the .proto text as the schema.
        Schema::Protobuf(p) => json!({
            "schemaFormat": "application/vnd.google.protobuf;version=3",
            "schema": p.file().source,
        }),
    }
}

/// The message's name: the Avro record's, the JSON Schema's title, or the
/// topic's in camel case.
fn message_name(schema: &Schema, topic: &str) -> String {
    let named = match schema {
        Schema::Avro(_) => schema.json().get("name").and_then(Value::as_str),
        Schema::Json(_) | Schema::Protobuf(_) => schema.json().get("title").and_then(Value::as_str),
    };
    let raw = named.map_or_else(
        || format!("{topic} event"),
        |n| n.rsplit('.').next().unwrap_or(n).to_string(),
    );
    let mut out = String::new();
    let mut upper = true;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

/// Whether a path starts at the payload's root (records' fields, JSON
/// Schema properties): AsyncAPI's `$message.payload#/…` cannot look inside
/// a union's branches.
fn root_has(json: &Value, segments: &[String], schema: &Schema) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return true;
    };
    match schema {
        Schema::Avro(_) => {
            let record = json.get("fields").and_then(Value::as_array);
            record.is_some_and(|fields| {
                fields.iter().any(|f| {
                    f.get("name").and_then(Value::as_str) == Some(first)
                        && (rest.is_empty()
                            || f.get("type").is_some_and(|t| {
                                t.get("type").and_then(Value::as_str) == Some("record") && root_has(t, rest, schema)
                            }))
                })
            })
        }
        Schema::Json(_) | Schema::Protobuf(_) => json
            .get("properties")
            .and_then(|p| p.get(first))
            .is_some_and(|child| root_has(child, rest, schema)),
    }
}

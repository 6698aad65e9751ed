//! A flow spec from an AsyncAPI document and an overlay: the document
//! gives topics, schemas and the correlation id; the overlay (the
//! `x-flowharness` extension, or `DOC.flowharness.toml` beside the
//! document) gives what AsyncAPI cannot say: states, transitions, paths,
//! timing and invariants, in the flow spec's own tables.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::document::Place;
use super::model::{Channel, Correlation, Document, Format};
use crate::error::{Diagnostic, Error, Result};
use crate::flow::FlowSpec;
use crate::schema::{Schema, avro_parse, json_schema::JsonSchema};

/// The overlay file beside a document: `orders.yaml` → `orders.flowharness.toml`.
pub fn overlay_path(doc: &Path) -> PathBuf {
    let stem = doc.file_stem().and_then(|s| s.to_str()).unwrap_or("asyncapi");
    doc.with_file_name(format!("{stem}.flowharness.toml"))
}

/// The overlay's tables: the `x-flowharness` extension or the file beside
/// the document (not both), or none.
fn overlay_of(doc: &Document) -> Result<Option<(Value, String)>> {
    let file = overlay_path(&doc.path);
    let inline = doc.overlay.clone();
    match (inline, file.exists()) {
        (Some(_), true) => Err(Error::invalid(Diagnostic::new(format!(
            "the overlay is given twice, as x-flowharness and as {}: keep one",
            file.display()
        )))
        .within(&doc.path.display().to_string())),
        (Some(v), false) => {
            let place = format!("{}#/x-flowharness", doc.path.display());
            if !v.is_object() {
                return Err(Error::invalid(Diagnostic::new("expected a mapping of flow spec tables")).within(&place));
            }
            Ok(Some((v, place)))
        }
        (None, true) => {
            let text = crate::error::read_to_string(&file)?;
            let place = file.display().to_string();
            let value: Value = toml::from_str(&text)
                .map_err(|e| Error::invalid(Diagnostic::new(e.to_string().trim().replace('\n', " "))).within(&place))?;
            Ok(Some((value, place)))
        }
        (None, false) => Ok(None),
    }
}

/// One channel's messages as one schema: the message's own, or with
/// several, an Avro union of them or a JSON Schema `anyOf`.
pub fn channel_schema(channel: &Channel) -> Result<Schema> {
    let [first, rest @ ..] = channel.messages.as_slice() else {
        return Err(channel.place.error("a channel with no messages"));
    };
    if rest.is_empty() {
        return Ok(first.schema.clone());
    }
    if channel.messages.iter().any(|m| m.format != first.format) {
        return Err(channel
            .place
            .error("messages of one channel mix Avro and JSON Schema payloads: give each its own channel"));
    }
    match first.format {
        Format::Avro => {
            let union: Vec<Value> = channel.messages.iter().map(|m| m.payload.clone()).collect();
            avro_parse::parse_value(&Value::Array(union))
                .map(Schema::Avro)
                .map_err(|e| e.within(&format!("{}: the union of its messages", channel.place.name())))
        }
        Format::JsonSchema => {
            let alternatives: Vec<Value> = channel
                .messages
                .iter()
                .map(|m| {
                    let mut p = m.payload.clone();
                    if let Value::Object(map) = &mut p {
                        map.remove("$schema");
                    }
                    p
                })
                .collect();
            let declared = first.payload.get("$schema").cloned().unwrap_or(Value::Null);
            let mut combined = json!({ "anyOf": alternatives });
            if !declared.is_null() {
                combined["$schema"] = declared;
            }
            JsonSchema::from_value(combined).map(Schema::Json)
        }
    }
}

/// The flow spec a document and its overlay describe.
pub fn flow_spec(path: &Path) -> Result<FlowSpec> {
    let doc = Document::load(path)?;
    flow_spec_of(&doc)
}

/// The flow spec of a loaded document.
pub fn flow_spec_of(doc: &Document) -> Result<FlowSpec> {
    let doc_name = doc.path.display().to_string();
    let Some((overlay, overlay_place)) = overlay_of(doc)? else {
        return Err(Error::invalid(Diagnostic::new(format!(
            "AsyncAPI says which messages exist, not how they follow one another: give the flow's states, \
             transitions, start and end in {} or as x-flowharness (`flowharness asyncapi init {doc_name}` writes a start)",
            overlay_path(&doc.path).display()
        )))
        .within(&doc_name));
    };
    let tables = tables_of(doc, &overlay).map_err(|e| e.within(&overlay_place))?;
    // Only the flow's channels are read as schemas: a channel left out may
    // be one flowharness cannot take (messages mixing formats).
    FlowSpec::from_tables(
        tables,
        &|name: &str| match doc.channels.iter().find(|c| c.place.name() == name) {
            Some(channel) => channel_schema(channel),
            None => Err(Error::Usage(format!("{name}: not a channel of the document"))),
        },
    )
    .map_err(|e| e.within(&overlay_place))
}

/// The spec's tables: the overlay's, with topics and schemas from the
/// document and defaults (name, flow id, key) from it where the overlay
/// is silent.
fn tables_of(doc: &Document, overlay: &Value) -> Result<Value> {
    let Value::Object(overlay) = overlay else {
        return Err(Error::invalid(Diagnostic::new("expected a table of flow spec tables")));
    };
    let mut problems = Vec::new();
    for k in ["schema", "topic"] {
        if overlay.contains_key(k) {
            problems.push(Diagnostic::new(format!("`{k}` comes from the document's channels: remove it")).within(k));
        }
    }
    let mut out: Map<String, Value> = overlay.clone();
    out.remove("state");
    if !out.contains_key("name") {
        out.insert("name".into(), Value::String(slug(&doc.title)));
    }
    if !out.contains_key("description") && !doc.description.is_empty() {
        out.insert("description".into(), Value::String(doc.description.clone()));
    }
    let given_topics = overlay
        .get("topics")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let top_state = overlay.get("state").cloned();
    for name in given_topics.keys() {
        if !doc.channels.iter().any(|c| &c.topic == name) {
            let known: Vec<&str> = doc.channels.iter().map(|c| c.topic.as_str()).collect();
            problems.push(
                Diagnostic::new(format!(
                    "no channel of the document has topic {name:?} (topics: {})",
                    known.join(", ")
                ))
                .within(format!("topics.{name}")),
            );
        }
    }
    // The flow's topics: those the overlay names (in [topics] or a state's
    // topic), or every channel where it names none. A channel left out is
    // not part of the flow (a command topic whose messages carry no flow id).
    let mut named: Vec<String> = given_topics.keys().cloned().collect();
    if let Some(states) = overlay.get("states").and_then(Value::as_object) {
        named.extend(
            states
                .values()
                .filter_map(|s| s.get("topic").and_then(Value::as_str))
                .map(str::to_string),
        );
    }
    let mut topics = Map::new();
    for channel in doc
        .channels
        .iter()
        .filter(|c| named.is_empty() || named.contains(&c.topic))
    {
        let mut t = given_topics
            .get(&channel.topic)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if t.contains_key("schema") {
            problems.push(
                Diagnostic::new("the schema comes from the document's messages: remove it")
                    .within(format!("topics.{}.schema", channel.topic)),
            );
        }
        t.insert("schema".into(), Value::String(channel.place.name()));
        if let (false, Some(n)) = (t.contains_key("partitions"), channel.partitions) {
            t.insert("partitions".into(), Value::from(n));
        }
        if !t.contains_key("state") {
            match top_state.clone().or_else(|| default_state(channel)) {
                Some(s) => {
                    t.insert("state".into(), s);
                }
                None => problems.push(
                    Diagnostic::new(
                        "how to tell this topic's states apart: give state = { union = \"...\" }, { field = \"...\" } or { record = true }",
                    )
                    .within(format!("topics.{}", channel.topic)),
                ),
            }
        }
        topics.insert(channel.topic.clone(), Value::Object(t));
    }
    out.insert("topics".into(), Value::Object(topics));
    let flow = out.entry("flow").or_insert_with(|| json!({}));
    // A disagreement between messages matters only where the overlay
    // leaves the flow id to the document.
    let correlations = correlation_default(doc);
    let header = correlations.as_ref().ok().and_then(|(_, h)| h.clone());
    if let Value::Object(flow) = flow {
        // The document's header correlation id, unless the overlay names
        // another or turns it off (`id_header = ""`: the service puts
        // something else there, not one id per flow).
        match (flow.get("id_header"), &header) {
            (Some(Value::String(h)), _) if h.is_empty() => {
                flow.remove("id_header");
            }
            (None, Some((name, _))) => {
                flow.insert("id_header".into(), Value::String(name.clone()));
            }
            _ => {}
        }
        if !flow.contains_key("id") {
            let (payload_id, _) = correlations?;
            match (payload_id, &header) {
                (Some(id), _) => {
                    flow.insert("id".into(), Value::String(id));
                }
                (None, Some((name, place))) => problems.push(
                    Diagnostic::new(format!(
                        "the correlation id is the header {name:?} (at {}): produced messages carry the flow id in it \
                         and verify checks it, but the id itself is read from the payload: give [flow] id = \"path\" \
                         of the payload field that holds it",
                        place.name()
                    ))
                    .within("flow.id"),
                ),
                (None, None) => problems.push(
                    Diagnostic::new(
                        "no flow id: the document's messages give no correlationId; give [flow] id = \"path\"",
                    )
                    .within("flow.id"),
                ),
            }
        }
    }
    if !out.contains_key("key") {
        let id = out.get("flow").and_then(|f| f.get("id")).cloned();
        match id {
            Some(Value::String(id)) => {
                out.insert("key".into(), Value::String(id));
            }
            _ => problems.push(Diagnostic::new("give key = \"path\": the field the message key is").within("key")),
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(Error::Invalid(problems))
    }
}

/// A topic of several Avro messages tells states by record type.
fn default_state(channel: &Channel) -> Option<Value> {
    (channel.messages.len() > 1 && channel.messages.iter().all(|m| m.format == Format::Avro))
        .then(|| json!({ "record": true }))
}

/// The payload correlation id and the header correlation id the messages
/// agree on (a document may use either, or both on different messages).
type Correlations = (Option<String>, Option<(String, Place)>);

fn correlation_default(doc: &Document) -> Result<Correlations> {
    let mut found: Option<(String, Place)> = None;
    let mut header: Option<(String, Place)> = None;
    for (_, message) in doc.messages() {
        let (slot, value, place, what, key) = match &message.correlation {
            Some((Correlation::Payload(path), place)) => (&mut found, path, place, "correlation id", "id"),
            Some((Correlation::Header(name), place)) => (&mut header, name, place, "correlation header", "id_header"),
            None => continue,
        };
        if let Some((seen, seen_at)) = slot.as_ref()
            && seen != value
        {
            return Err(place.error(format!(
                "messages disagree on the {what} ({value} here, {seen} at {}): give [flow] {key} in the overlay",
                seen_at.name()
            )));
        }
        *slot = Some((value.clone(), place.clone()));
    }
    Ok((found.map(|(p, _)| p), header))
}

/// A title as a flow name: `Streetlights Kafka API` → `streetlights-kafka-api`.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "asyncapi-flow".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_overlay_paths() {
        assert_eq!(slug("Streetlights Kafka API"), "streetlights-kafka-api");
        assert_eq!(slug("  "), "asyncapi-flow");
        assert_eq!(
            overlay_path(Path::new("docs/orders.yaml")),
            PathBuf::from("docs/orders.flowharness.toml")
        );
    }
}

//! `flowharness asyncapi init DOC`: a first overlay for a document. It
//! loads as written (a chain of the messages in document order), so the
//! user can generate at once, and says in comments what to check.

use std::fmt::Write as _;

use serde_json::Value;

use super::import::slug;
use super::model::{Channel, Correlation, Document, Format, Message};

/// How a topic's states are told apart, and each message's state value.
struct Guess {
    state: String,
    why: String,
    /// (state name, `is` value, time field) per state; no `is` value for
    /// a topic whose every message is its one state.
    states: Vec<(String, Option<String>, Option<String>)>,
}

/// The overlay text for a document.
pub fn overlay_text(doc: &Document) -> String {
    let mut out = String::new();
    let file = doc.path.file_name().and_then(|f| f.to_str()).unwrap_or("the document");
    let _ = writeln!(
        out,
        "# The flow of {file} (AsyncAPI {}): what AsyncAPI cannot say.\n\
         # Topics, schemas and the correlation id come from the document; the\n\
         # tables below are a flow spec's own (see the README's \"Flow contracts\").\n\
         # The transitions are a first guess: the messages chained in document\n\
         # order. Check them, and add paths, timing and invariants.",
        doc.version_text
    );
    let _ = writeln!(out, "name = {}", toml_str(&slug(&doc.title)));
    let id = flow_id(doc);
    match &id {
        Some(id) => {
            let _ = writeln!(out, "# The field the message key is.\nkey = {}", toml_str(id));
        }
        None => {
            let _ = writeln!(out, "# The field the message key is: fill in.\nkey = \"\"");
        }
    }
    let mut all_states: Vec<(String, String)> = Vec::new();
    let mut times: Vec<(String, Option<String>)> = Vec::new();
    // A channel none of whose messages carries the flow id cannot be in
    // the flow (its messages could not be told apart by flow): left out,
    // unless no channel carries it.
    let carries = |c: &Channel| {
        id.as_ref()
            .is_none_or(|id| c.messages.iter().any(|m| has_field(&m.payload, id)))
    };
    let keep_all = !doc.channels.iter().any(carries);
    let kept: Vec<&Channel> = doc.channels.iter().filter(|c| keep_all || carries(c)).collect();
    for channel in doc.channels.iter().filter(|c| !keep_all && !carries(c)) {
        let _ = writeln!(
            out,
            "\n# Channel {} (topic {}) is left out: none of its messages has the flow id field {:?}.\n\
             # To put it in the flow, give [topics.{}] with id = \"its path to the flow id\" and its states.",
            channel.id,
            channel.topic,
            id.as_deref().unwrap_or_default(),
            toml_key(&channel.topic)
        );
    }
    for channel in &kept {
        let guess = guess(channel);
        let names: Vec<&str> = channel.messages.iter().map(|m| m.name.as_str()).collect();
        let _ = writeln!(
            out,
            "\n[topics.{}]\n# channel {} ({}): {}\n# {}\nstate = {}",
            toml_key(&channel.topic),
            channel.id,
            channel.place.pointer,
            names.join(", "),
            guess.why,
            guess.state
        );
        for (name, is, time) in guess.states {
            let unique = unique_name(&name, &all_states);
            times.push((unique.clone(), time));
            let is = is.map(|is| format!(", is = {}", toml_str(&is))).unwrap_or_default();
            all_states.push((unique, format!("{{ topic = {}{is} }}", toml_str(&channel.topic))));
        }
    }
    let _ = writeln!(out, "\n[states]");
    for (name, def) in &all_states {
        let _ = writeln!(out, "{} = {def}", toml_key(name));
    }
    let names: Vec<&String> = all_states.iter().map(|(n, _)| n).collect();
    let _ = writeln!(out, "\n[flow]");
    match (&id, correlation_note(doc)) {
        (Some(id), note) if note.starts_with("From correlationId") => {
            let _ = writeln!(out, "# {note}\nid = {}", toml_str(id));
        }
        (Some(id), note) => {
            let _ = writeln!(
                out,
                "# {note}.\n# A guess: every message has the field {id:?}. Check it.\nid = {}",
                toml_str(id)
            );
        }
        (None, note) => {
            let _ = writeln!(
                out,
                "# {note}: fill in the payload field that identifies a flow.\nid = \"\""
            );
        }
    }
    let first = names.first().map(|n| toml_str(n)).unwrap_or_default();
    let last = names.last().map(|n| toml_str(n)).unwrap_or_default();
    let _ = writeln!(out, "start = [{first}]\nend = [{last}]");
    if names.len() == 1 {
        let _ = writeln!(
            out,
            "# One state: each message is a flow of its own, and the same id comes again.\nrestart_after = [{first}]"
        );
    }
    let _ = writeln!(out, "\n[transitions]");
    for pair in names.windows(2) {
        let _ = writeln!(out, "{} = {{ {} = 1 }}", toml_key(pair[0]), toml_key(pair[1]));
    }
    if times.iter().any(|(_, t)| t.is_some()) || kept.len() > 1 {
        let _ = writeln!(
            out,
            "\n# Each state's time field (a flow across topics is put in time order by them).\n[timing.states]"
        );
        for (name, time) in &times {
            match time {
                Some(field) => {
                    let _ = writeln!(out, "{} = {{ field = {} }}", toml_key(name), toml_str(field));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "# {}: no date-time or timestamp field found: give one",
                        toml_key(name)
                    );
                }
            }
        }
    }
    if !doc.operations.is_empty() {
        let _ = writeln!(out, "\n# Operations in the document (who sends what):");
        for op in &doc.operations {
            let _ = writeln!(
                out,
                "#   {} {} on channel {} ({})",
                op.id,
                op.action,
                op.channel,
                op.messages.join(", ")
            );
        }
    }
    out
}

/// The flow id: the payload correlationId, else a guess: a top-level
/// field every message has, one named like an id first (`truckId`).
fn flow_id(doc: &Document) -> Option<String> {
    let declared = doc.messages().find_map(|(_, m)| match &m.correlation {
        Some((Correlation::Payload(p), _)) => Some(p.clone()),
        _ => None,
    });
    declared.or_else(|| {
        let (_, first) = doc.messages().next()?;
        let names = top_fields(&first.payload);
        let shared: Vec<&String> = names
            .iter()
            .filter(|n| doc.messages().all(|(_, m)| has_field(&m.payload, n)))
            .collect();
        let id_like = |n: &&&String| {
            let lower = n.to_ascii_lowercase();
            lower.ends_with("id") || lower.ends_with("_id") || lower.ends_with("key")
        };
        shared.iter().find(id_like).map(|n| (*n).clone())
    })
}

/// The top-level field names of a JSON Schema or Avro record payload.
fn top_fields(schema: &Value) -> Vec<String> {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return props.keys().cloned().collect();
    }
    schema
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn correlation_note(doc: &Document) -> String {
    let payload = doc.messages().find_map(|(_, m)| match &m.correlation {
        Some((Correlation::Payload(p), place)) => Some(format!("From correlationId at {}: {p}", place.pointer)),
        _ => None,
    });
    let header = || {
        doc.messages().find_map(|(_, m)| match &m.correlation {
            Some((Correlation::Header(h), place)) => Some(format!(
                "The correlationId at {} is the header {h:?}: it becomes id_header (produced messages carry \
                 it, verify checks it per flow); the flow id itself is a payload field",
                place.pointer
            )),
            _ => None,
        })
    };
    payload
        .or_else(header)
        .unwrap_or_else(|| "No message has a correlationId".to_string())
}

fn unique_name(name: &str, taken: &[(String, String)]) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while taken.iter().any(|(t, _)| *t == candidate) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    candidate
}

/// A guess at a topic's state source.
fn guess(channel: &Channel) -> Guess {
    let messages = &channel.messages;
    if messages.len() > 1 && messages.iter().all(|m| m.format == Format::Avro) {
        return Guess {
            state: "{ record = true }".into(),
            why: "several Avro messages: each message's record type is its state".into(),
            states: messages
                .iter()
                .map(|m| {
                    let is = avro_name(&m.payload).unwrap_or_else(|| m.name.clone());
                    (state_name(&m.name), Some(is), time_field(&m.payload))
                })
                .collect(),
        };
    }
    if messages.len() > 1
        && let Some((field, values)) = json_discriminator(messages)
    {
        return Guess {
            state: format!("{{ field = {} }}", toml_str(&field)),
            why: format!("each message's payload fixes {field:?} to its own value"),
            states: messages
                .iter()
                .zip(values)
                .map(|(m, v)| (state_name(&m.name), Some(v), time_field(&m.payload)))
                .collect(),
        };
    }
    let only = &messages[0];
    match only.format {
        Format::Avro => {
            if let Some((field, branches)) = avro_union_field(&only.payload) {
                return Guess {
                    state: format!("{{ union = {} }}", toml_str(&field)),
                    why: format!("the union field {field:?}: one state per branch (field paths inside the branch)"),
                    states: branches
                        .into_iter()
                        .map(|(b, time)| (state_name(&b), Some(b), time))
                        .collect(),
                };
            }
            if let Some((field, symbols)) = avro_enum_field(&only.payload) {
                return Guess {
                    state: format!("{{ field = {} }}", toml_str(&field)),
                    why: format!("the enum field {field:?}: one state per symbol"),
                    states: symbols
                        .into_iter()
                        .map(|s| (state_name(&s), Some(s), time_field(&only.payload)))
                        .collect(),
                };
            }
        }
        Format::JsonSchema => {
            if let Some((field, values)) = json_enum_field(&only.payload) {
                return Guess {
                    state: format!("{{ field = {} }}", toml_str(&field)),
                    why: format!("the enum field {field:?}: one state per value"),
                    states: values
                        .into_iter()
                        .map(|v| (state_name(&v), Some(v), time_field(&only.payload)))
                        .collect(),
                };
            }
        }
    }
    if messages.len() == 1 {
        return Guess {
            state: "{ single = true }".into(),
            why: "one message and no union, enum or discriminating field: every message on the topic is one state"
                .into(),
            states: vec![(state_name(&only.name), None, time_field(&only.payload))],
        };
    }
    Guess {
        state: "{ field = \"\" }".into(),
        why: "no union, enum or discriminating field found: name the field whose value is the state".into(),
        states: messages
            .iter()
            .map(|m| (state_name(&m.name), Some(m.name.clone()), time_field(&m.payload)))
            .collect(),
    }
}

/// Whether a payload schema has the field at a dotted path: JSON Schema
/// properties (inside `allOf`/`anyOf`/`oneOf` too) or Avro record fields
/// (inside nullable unions too).
fn has_field(schema: &Value, path: &str) -> bool {
    let (first, rest) = match path.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (path, None),
    };
    let next: Vec<&Value> = match schema {
        Value::Array(branches) => return branches.iter().any(|b| has_field(b, path)),
        Value::Object(m) => {
            let mut found: Vec<&Value> = Vec::new();
            if let Some(p) = m.get("properties").and_then(|p| p.get(first)) {
                found.push(p);
            }
            if let Some(fields) = m.get("fields").and_then(Value::as_array) {
                found.extend(
                    fields
                        .iter()
                        .filter(|f| f.get("name").and_then(Value::as_str) == Some(first))
                        .filter_map(|f| f.get("type")),
                );
            }
            for k in ["allOf", "anyOf", "oneOf"] {
                if let Some(list) = m.get(k).and_then(Value::as_array)
                    && list.iter().any(|s| has_field(s, path))
                {
                    return true;
                }
            }
            if let Some(t @ (Value::Object(_) | Value::Array(_))) = m.get("type")
                && has_field(t, path)
            {
                return true;
            }
            found
        }
        _ => Vec::new(),
    };
    match rest {
        None => !next.is_empty(),
        Some(rest) => next.iter().any(|n| has_field(n, rest)),
    }
}

fn avro_name(schema: &Value) -> Option<String> {
    let name = schema.get("name")?.as_str()?;
    Some(name.rsplit('.').next().unwrap_or(name).to_string())
}

fn records(schema: &Value) -> Vec<&Value> {
    match schema {
        Value::Array(list) => list.iter().flat_map(records).collect(),
        Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("record") => vec![schema],
        _ => Vec::new(),
    }
}

/// The first top-level time field: a JSON Schema `date-time` string, or an
/// Avro `timestamp-*` long.
fn time_field(schema: &Value) -> Option<String> {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return props
            .iter()
            .find(|(_, p)| p.get("format").and_then(Value::as_str) == Some("date-time"))
            .map(|(k, _)| k.clone());
    }
    let fields = schema.get("fields")?.as_array()?;
    fields
        .iter()
        .find(|f| {
            f.get("type")
                .and_then(|t| t.get("logicalType"))
                .and_then(Value::as_str)
                .is_some_and(|l| l.starts_with("timestamp-") || l.starts_with("local-timestamp-"))
        })
        .and_then(|f| f.get("name")?.as_str().map(str::to_string))
}

/// A union field and its branches, each with its time field.
type UnionBranches = (String, Vec<(String, Option<String>)>);

fn avro_union_field(schema: &Value) -> Option<UnionBranches> {
    let fields = schema.get("fields")?.as_array()?;
    fields.iter().find_map(|f| {
        let branches = f.get("type")?.as_array()?;
        let names: Vec<(String, Option<String>)> = branches
            .iter()
            .flat_map(records)
            .filter_map(|r| Some((avro_name(r)?, time_field(r))))
            .collect();
        let field = f.get("name")?.as_str()?.to_string();
        (names.len() >= 2).then_some((field, names))
    })
}

fn avro_enum_field(schema: &Value) -> Option<(String, Vec<String>)> {
    let fields = schema.get("fields")?.as_array()?;
    fields.iter().find_map(|f| {
        let t = f.get("type")?;
        (t.get("type")?.as_str()? == "enum").then_some(())?;
        let symbols = t
            .get("symbols")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        Some((f.get("name")?.as_str()?.to_string(), symbols))
    })
}

fn json_enum_field(schema: &Value) -> Option<(String, Vec<String>)> {
    let props = schema.get("properties")?.as_object()?;
    props.iter().find_map(|(name, p)| {
        let values: Vec<String> = p
            .get("enum")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        (values.len() >= 2).then(|| (name.clone(), values))
    })
}

/// A top-level property every message fixes to its own value (`const` or
/// a one-value `enum`).
fn json_discriminator(messages: &[Message]) -> Option<(String, Vec<String>)> {
    let fixed = |m: &Message, name: &str| -> Option<String> {
        let p = m.payload.get("properties")?.get(name)?;
        p.get("const")
            .or_else(|| {
                p.get("enum")
                    .and_then(Value::as_array)
                    .filter(|e| e.len() == 1)
                    .and_then(|e| e.first())
            })
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let props = messages[0].payload.get("properties")?.as_object()?;
    props.keys().find_map(|name| {
        let values: Option<Vec<String>> = messages.iter().map(|m| fixed(m, name)).collect();
        let values = values?;
        let mut distinct = values.clone();
        distinct.sort();
        distinct.dedup();
        (distinct.len() == values.len()).then(|| (name.clone(), values))
    })
}

/// A message or value as a state name: `order.created` → `OrderCreated`.
fn state_name(text: &str) -> String {
    let short = text.rsplit('.').next().filter(|s| !s.is_empty()).unwrap_or(text);
    let source = if text.contains('.') && short.chars().next().is_some_and(char::is_uppercase) {
        short.to_string()
    } else {
        text.to_string()
    };
    let mut out = String::new();
    let mut upper = true;
    for c in source.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else if source.chars().all(|c| !c.is_ascii_lowercase()) {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() { "State".to_string() } else { out }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn toml_key(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        s.to_string()
    } else {
        toml_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(state_name("order.created"), "OrderCreated");
        assert_eq!(state_name("PAYMENT_CAPTURED"), "PaymentCaptured");
        assert_eq!(state_name("com.acme.OrderShipped"), "OrderShipped");
        assert_eq!(state_name("lightMeasured"), "LightMeasured");
        assert_eq!(toml_key("a.b"), "\"a.b\"");
    }

    #[test]
    fn fields_found_through_json_and_avro_shapes() {
        let json = serde_json::json!({"allOf": [{"properties": {"meta": {"properties": {"id": {"type": "string"}}}}}]});
        assert!(has_field(&json, "meta.id"));
        assert!(!has_field(&json, "meta.other"));
        let avro = serde_json::json!({"type": "record", "name": "E", "fields": [
            {"name": "head", "type": ["null", {"type": "record", "name": "H", "fields": [{"name": "id", "type": "string"}]}]}
        ]});
        assert!(has_field(&avro, "head.id"));
        assert!(!has_field(&avro, "id"));
    }
}

//! Fixture files: the seed's format, read and written.
//!
//! ```json
//! {"0": {"schema": {...} | "path/to/schema.avsc" | "string", "partition": 0, "key": null,
//!        "topic": "migration-all-1", "messages": [ ...Avro JSON encoding... ]}}
//! ```
//!
//! Reading reports one diagnostic per problem, each naming the file, the
//! entry, the message index and the field path.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::codec::avro_json;
use crate::error::{Diagnostic, Error, Result};
use crate::schema::Schema;

/// Where an entry's schema came from, kept so a fixture is written back as
/// it was read.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaSource {
    Inline,
    /// A path as written in the file, relative to the fixture's folder.
    Path(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub schema: Schema,
    pub schema_source: SchemaSource,
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Value,
    /// Validated messages; Avro ones with union keys as full names.
    pub messages: Vec<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct Fixture {
    pub entries: Vec<Entry>,
}

/// What a fixture holds, for summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub entries: usize,
    pub messages: usize,
}

impl Fixture {
    /// Reads and validates a fixture file. The file is parsed straight from
    /// a buffered reader, so its text is never held beside its value.
    pub fn load(path: &Path) -> Result<Fixture> {
        let place = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let json: Value = serde_json::from_reader(BufReader::new(file)).map_err(|e| {
            let kind = if e.is_io() { "cannot read" } else { "invalid JSON" };
            Error::invalid(
                Diagnostic::new(format!("line {} column {}: {kind}: {}", e.line(), e.column(), e)).within(&place),
            )
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Fixture::from_value(json, &base).map_err(|e| e.within(&place))
    }

    /// Builds a fixture from its JSON; schema paths are resolved against
    /// `base`. The JSON is consumed message by message as it is checked,
    /// so a large fixture is never held twice.
    pub fn from_value(json: Value, base: &Path) -> Result<Fixture> {
        let Value::Object(object) = json else {
            return Err(Error::invalid(Diagnostic::new(
                "a fixture must be an object of entries: {\"0\": {\"schema\", \"topic\", \"messages\", ...}}",
            )));
        };
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        for (id, entry) in object {
            let place = format!("entry {id:?}");
            match read_entry(&id, entry, base) {
                Ok(entry) => entries.push(entry),
                Err(list) => problems.extend(list.into_iter().map(|d| d.within(place.clone()))),
            }
        }
        if problems.is_empty() {
            Ok(Fixture { entries })
        } else {
            Err(Error::Invalid(problems))
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            entries: self.entries.len(),
            messages: self.entries.iter().map(|e| e.messages.len()).sum(),
        }
    }

    /// The fixture in the seed's format.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        for entry in &self.entries {
            let mut e = Map::new();
            let schema = match &entry.schema_source {
                SchemaSource::Inline => entry.schema.json().clone(),
                SchemaSource::Path(p) => Value::String(p.clone()),
            };
            e.insert("schema".into(), schema);
            e.insert("partition".into(), entry.partition.map_or(Value::Null, Value::from));
            e.insert("key".into(), entry.key.clone());
            e.insert("topic".into(), Value::String(entry.topic.clone()));
            e.insert("messages".into(), Value::Array(entry.messages.clone()));
            out.insert(entry.id.clone(), Value::Object(e));
        }
        Value::Object(out)
    }

    /// Writes the fixture, pretty-printed, to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(&self.to_value()).map_err(|e| Error::Usage(e.to_string()))?;
        text.push('\n');
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }
}

fn read_entry(id: &str, json: Value, base: &Path) -> std::result::Result<Entry, Vec<Diagnostic>> {
    let Value::Object(mut obj) = json else {
        return Err(vec![Diagnostic::new(
            "an entry must be an object with \"schema\", \"topic\" and \"messages\"",
        )]);
    };
    let mut problems = Vec::new();
    for key in obj.keys() {
        if !["schema", "partition", "key", "topic", "messages"].contains(&key.as_str()) {
            problems.push(Diagnostic::new(format!("unknown key {key:?}")));
        }
    }
    let topic = match obj.get("topic") {
        Some(Value::String(t)) if valid_topic(t) => t.clone(),
        Some(Value::String(t)) => {
            problems.push(
                Diagnostic::new(format!("invalid topic name {t:?}: use 1-249 of [a-zA-Z0-9._-]")).within("topic"),
            );
            String::new()
        }
        Some(other) => {
            problems.push(Diagnostic::new(format!("expected a string, found {other}")).within("topic"));
            String::new()
        }
        None => {
            problems.push(Diagnostic::new("missing \"topic\""));
            String::new()
        }
    };
    let partition = match obj.get("partition") {
        None | Some(Value::Null) => None,
        Some(p) => match p.as_i64().and_then(|p| i32::try_from(p).ok()).filter(|p| *p >= 0) {
            Some(p) => Some(p),
            None => {
                problems.push(
                    Diagnostic::new(format!("expected a partition number ≥ 0 or null, found {p}")).within("partition"),
                );
                None
            }
        },
    };
    let key = obj.remove("key").unwrap_or(Value::Null);
    let schema = read_schema(obj.get("schema"), base);
    let messages = match obj.remove("messages") {
        Some(Value::Array(list)) => Some(list),
        Some(_) => {
            problems.push(Diagnostic::new("expected an array of messages").within("messages"));
            None
        }
        None => {
            problems.push(Diagnostic::new("missing \"messages\""));
            None
        }
    };
    let (schema, schema_source) = match schema {
        Ok(pair) => pair,
        Err(list) => {
            problems.extend(list);
            return Err(problems);
        }
    };
    let mut normalized = Vec::new();
    for (i, message) in messages.into_iter().flatten().enumerate() {
        let place = format!("messages[{i}]");
        let checked = match &schema {
            Schema::Avro(avro) => avro_json::normalize(avro, &message),
            Schema::Json(json) => {
                let violations = json.validate(&message);
                if violations.is_empty() {
                    Ok(message)
                } else {
                    Err(violations)
                }
            }
        };
        match checked {
            Ok(m) => normalized.push(m),
            Err(violations) => problems.extend(violations.iter().map(|v| v.to_diagnostic().within(place.clone()))),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Entry {
        id: id.to_string(),
        schema,
        schema_source,
        topic,
        partition,
        key,
        messages: normalized,
    })
}

fn read_schema(json: Option<&Value>, base: &Path) -> std::result::Result<(Schema, SchemaSource), Vec<Diagnostic>> {
    let in_schema = |e: Error| {
        e.diagnostics()
            .into_iter()
            .map(|d| d.within("schema"))
            .collect::<Vec<_>>()
    };
    match json {
        None => Err(vec![Diagnostic::new("missing \"schema\"")]),
        Some(Value::String(p)) if looks_like_path(p) => {
            let path: PathBuf = base.join(p);
            Schema::load(&path)
                .map(|s| (s, SchemaSource::Path(p.clone())))
                .map_err(in_schema)
        }
        Some(inline) => Schema::from_value(inline)
            .map(|s| (s, SchemaSource::Inline))
            .map_err(in_schema),
    }
}

/// A schema string is a file path when it has a folder or a schema file
/// extension; otherwise it is an inline Avro type name such as `"string"`.
fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.ends_with(".avsc") || s.ends_with(".json")
}

/// Kafka's topic name rule.
pub fn valid_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

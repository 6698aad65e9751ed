//! Fixture files: the seed's format, read and written.
//!
//! ```json
//! {"0": {"schema": {...} | "path/to/schema.avsc" | "string", "partition": 0, "key": null,
//!        "topic": "migration-all-1", "messages": [ ...Avro JSON encoding... ]}}
//! ```
//!
//! An entry may also carry `"headers": {"name": "value"}`, sent with each
//! of its messages. Files ending `.jsonl` are fixture lines
//! (`fixture_lines`), read the same way.
//!
//! Reading reports one diagnostic per problem, each naming the file, the
//! entry, the message index and the field path.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

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
    /// Shared by every entry that names the same schema.
    pub schema: Arc<Schema>,
    pub schema_source: SchemaSource,
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Value,
    /// Headers every message of the entry carries (fixture lines give each
    /// message its own entry).
    pub headers: Vec<(String, String)>,
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
        let mut entries = Vec::new();
        Fixture::visit(path, &mut |e| entries.push(e))?;
        Ok(Fixture { entries })
    }

    /// Reads a fixture file entry by entry, handing each checked entry to
    /// `each` and keeping none: memory is one entry's, whatever the file's
    /// size. Problems are reported together at the end, as by [`Fixture::load`].
    pub fn visit(path: &Path, each: &mut dyn FnMut(Entry)) -> Result<()> {
        Fixture::visit_with(path, Messages::Checked, &mut |entry, _| each(entry))
    }

    /// As [`Fixture::visit`], but messages are not validated against the
    /// entry's schema (Avro JSON is still normalized where it reads): for
    /// `verify --file`, whose checker validates every message against the
    /// flow's schema and reports what fails as a finding, not as a bad file.
    pub fn visit_unchecked(path: &Path, each: &mut dyn FnMut(Entry)) -> Result<()> {
        Fixture::visit_with(path, Messages::Unchecked, &mut |entry, _| each(entry))
    }

    /// As [`Fixture::visit_unchecked`], where `each` may put the values it
    /// is done with in its second argument: a reader on a thread of its own
    /// (fixture lines) frees them there, where they were made, which costs
    /// the allocator less than freeing them here.
    pub fn visit_unchecked_returning(path: &Path, each: &mut dyn FnMut(Entry, &mut Vec<Value>)) -> Result<()> {
        Fixture::visit_with(path, Messages::Unchecked, each)
    }

    fn visit_with(path: &Path, messages: Messages, each: &mut dyn FnMut(Entry, &mut Vec<Value>)) -> Result<()> {
        let place = path.display().to_string();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if crate::fixture_lines::is_lines(path) {
            // Lines are parsed, checked and normalized on the reader thread;
            // only whole entries (or what is wrong with them) cross.
            let mut schemas = Schemas::default();
            // Each topic's schema once a line of it has been read in full.
            let mut known: HashMap<String, (Arc<Schema>, SchemaSource)> = HashMap::new();
            let base = &base;
            let mut problems = Vec::new();
            crate::fixture_lines::read(
                path,
                move |n, line, rows| {
                    let place = format!("line {n}");
                    // A usual line of a topic already read: its parts
                    // straight into the entry. Anything else is read as a
                    // seed-format entry, which says what is wrong.
                    if let Some(row) = rows.row(line)
                        && let Some((schema, source)) = known.get(&row.topic)
                        && let Ok(message) = checked_message(schema, messages, row.value)
                    {
                        return Ok(Entry {
                            id: place,
                            schema: schema.clone(),
                            schema_source: source.clone(),
                            topic: row.topic,
                            partition: row.partition,
                            key: row.key,
                            headers: row.headers,
                            messages: vec![message],
                        });
                    }
                    let placed = |list: Vec<Diagnostic>| list.into_iter().map(|d| d.within(place.clone())).collect();
                    let entry = match rows.entry(line) {
                        Ok(row) => read_entry(&place, row, base, &mut schemas, messages).map_err(placed),
                        Err(d) => Err(placed(vec![d])),
                    };
                    if let Ok(e) = &entry
                        && !known.contains_key(&e.topic)
                    {
                        known.insert(e.topic.clone(), (e.schema.clone(), e.schema_source.clone()));
                    }
                    entry
                },
                &mut |entry: std::result::Result<Entry, Vec<Diagnostic>>, done| match entry {
                    Ok(entry) => each(entry, done),
                    Err(list) => problems.extend(list),
                },
            )?;
            return if problems.is_empty() {
                Ok(())
            } else {
                Err(Error::Invalid(problems).within(&place))
            };
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // Entry by entry: each is parsed, checked and kept in its checked
        // form before the next is read, so a large fixture is never held
        // twice, and entries naming the same schema share one. Values done
        // with are freed here, as they were made here.
        let mut done = Vec::new();
        let mut one = |entry: Entry| {
            each(entry, &mut done);
            done.clear();
        };
        let mut reader = EntryReader {
            base: &base,
            schemas: Schemas::default(),
            sink: Sink::Each(&mut one),
            problems: Vec::new(),
            messages,
        };
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
        let parsed = serde::Deserializer::deserialize_map(&mut de, &mut reader).and_then(|()| de.end());
        if let Err(e) = parsed {
            let kind = if e.is_io() { "cannot read" } else { "invalid JSON" };
            let message = if e.to_string().contains(NOT_AN_OBJECT) {
                NOT_AN_OBJECT.to_string()
            } else {
                format!("line {} column {}: {kind}: {e}", e.line(), e.column())
            };
            return Err(Error::invalid(Diagnostic::new(message).within(&place)));
        }
        if reader.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(reader.problems).within(&place))
        }
    }

    /// Builds a fixture from its JSON; schema paths are resolved against
    /// `base`.
    pub fn from_value(json: Value, base: &Path) -> Result<Fixture> {
        let Value::Object(object) = json else {
            return Err(Error::invalid(Diagnostic::new(NOT_AN_OBJECT)));
        };
        let mut entries = Vec::new();
        let mut reader = EntryReader {
            base,
            schemas: Schemas::default(),
            sink: Sink::Keep(&mut entries),
            problems: Vec::new(),
            messages: Messages::Checked,
        };
        for (id, entry) in object {
            reader.add(&id, entry);
        }
        if reader.problems.is_empty() {
            Ok(Fixture { entries })
        } else {
            Err(Error::Invalid(reader.problems))
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
            if !entry.headers.is_empty() {
                let headers: Map<String, Value> = entry
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                e.insert("headers".into(), Value::Object(headers));
            }
            e.insert("messages".into(), Value::Array(entry.messages.clone()));
            out.insert(entry.id.clone(), Value::Object(e));
        }
        Value::Object(out)
    }

    /// Writes the fixture, pretty-printed, to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text =
            serde_json::to_string_pretty(&self.to_value()).map_err(|e| Error::internal_from("serializing JSON", e))?;
        text.push('\n');
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }
}

const NOT_AN_OBJECT: &str =
    "a fixture must be an object of entries: {\"0\": {\"schema\", \"topic\", \"messages\", ...}}";

/// Schemas read so far, by how the entry named them.
#[derive(Default)]
struct Schemas(HashMap<String, Arc<Schema>>);

/// Where checked entries go.
enum Sink<'a> {
    Keep(&'a mut Vec<Entry>),
    Each(&'a mut dyn FnMut(Entry)),
}

/// Reads entries one at a time, as the JSON parser hands them over.
struct EntryReader<'a> {
    base: &'a Path,
    schemas: Schemas,
    sink: Sink<'a>,
    problems: Vec<Diagnostic>,
    messages: Messages,
}

/// Whether messages are validated against their entry's schema.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Messages {
    Checked,
    Unchecked,
}

impl EntryReader<'_> {
    fn add(&mut self, id: &str, entry: Value) {
        match read_entry(id, entry, self.base, &mut self.schemas, self.messages) {
            Ok(entry) => match &mut self.sink {
                Sink::Keep(list) => list.push(entry),
                Sink::Each(each) => each(entry),
            },
            Err(list) => {
                let place = if id.starts_with("line ") {
                    id.to_string()
                } else {
                    format!("entry {id:?}")
                };
                self.problems.extend(list.into_iter().map(|d| d.within(place.clone())));
            }
        }
    }
}

impl<'de> serde::de::Visitor<'de> for &mut EntryReader<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(NOT_AN_OBJECT)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(id) = map.next_key::<String>()? {
            let entry: Value = map.next_value()?;
            self.add(&id, entry);
        }
        Ok(())
    }
}

fn read_entry(
    id: &str,
    json: Value,
    base: &Path,
    schemas: &mut Schemas,
    check: Messages,
) -> std::result::Result<Entry, Vec<Diagnostic>> {
    let Value::Object(mut obj) = json else {
        return Err(vec![Diagnostic::new(
            "an entry must be an object with \"schema\", \"topic\" and \"messages\"",
        )]);
    };
    let mut problems = Vec::new();
    for key in obj.keys() {
        if !["schema", "partition", "key", "topic", "headers", "messages"].contains(&key.as_str()) {
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
    let mut headers = Vec::new();
    match obj.remove("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(v) => headers.push((k, v)),
                    other => problems.push(
                        Diagnostic::new(format!("expected a string, found {other}")).within(format!("headers.{k}")),
                    ),
                }
            }
        }
        Some(other) => {
            problems.push(Diagnostic::new(format!("expected an object of strings, found {other}")).within("headers"));
        }
    }
    let schema = read_schema(obj.get("schema"), base, schemas);
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
        match checked_message(&schema, check, message) {
            Ok(m) => normalized.push(m),
            Err(violations) => {
                let place = format!("messages[{i}]");
                problems.extend(violations.iter().map(|v| v.to_diagnostic().within(place.clone())));
            }
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
        headers,
        messages: normalized,
    })
}

/// A message as an entry keeps it: Avro JSON normalized, and validated
/// where the reader checks messages.
fn checked_message(
    schema: &Schema,
    check: Messages,
    message: Value,
) -> std::result::Result<Value, Vec<crate::schema::path::Violation>> {
    match (schema, check) {
        (Schema::Avro(avro), Messages::Unchecked) => Ok(avro_json::normalize_lenient(avro, message)),
        (Schema::Json(_) | Schema::Protobuf(_), Messages::Unchecked) => Ok(message),
        (Schema::Avro(avro), Messages::Checked) => avro_json::normalize_owned(avro, message),
        (Schema::Json(_) | Schema::Protobuf(_), Messages::Checked) => {
            let violations = schema.validate(&message);
            if violations.is_empty() {
                Ok(message)
            } else {
                Err(violations)
            }
        }
    }
}

fn read_schema(
    json: Option<&Value>,
    base: &Path,
    schemas: &mut Schemas,
) -> std::result::Result<(Arc<Schema>, SchemaSource), Vec<Diagnostic>> {
    let in_schema = |e: Error| {
        e.diagnostics()
            .into_iter()
            .map(|d| d.within("schema"))
            .collect::<Vec<_>>()
    };
    let (name, source) = match json {
        None => return Err(vec![Diagnostic::new("missing \"schema\"")]),
        Some(Value::String(p)) if looks_like_path(p) => (format!("path:{p}"), SchemaSource::Path(p.clone())),
        Some(inline) => (format!("inline:{inline}"), SchemaSource::Inline),
    };
    if let Some(known) = schemas.0.get(&name) {
        return Ok((known.clone(), source));
    }
    let schema = match (&source, json) {
        (SchemaSource::Path(p), _) => Schema::load(&base.join(p)),
        (SchemaSource::Inline, Some(inline)) => Schema::from_value(inline),
        (SchemaSource::Inline, None) => return Err(vec![Diagnostic::new("missing \"schema\"")]),
    }
    .map_err(in_schema)?;
    let schema = Arc::new(schema);
    schemas.0.insert(name, schema.clone());
    Ok((schema, source))
}

/// A schema string is a file path when it has a folder or a schema file
/// extension; otherwise it is an inline Avro type name such as `"string"`.
fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\') || s.ends_with(".avsc") || s.ends_with(".json") || s.ends_with(".proto")
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

//! Fixture lines (`.jsonl`): the line-oriented fixture for big data. The
//! first line names the schema of each topic (a path beside the file, or
//! the schema inline); every other line is one message in the Avro JSON
//! encoding (or plain JSON for a JSON Schema), with its key, partition and
//! headers:
//!
//! ```text
//! {"format": "flowharness-fixture-lines/1", "schemas": {"orders": "orders.jsonl.avsc"}}
//! {"topic": "orders", "key": "o-1", "partition": null, "headers": {"trace": "a1"}, "value": {...}}
//! ```
//!
//! `topic` may be left out when the header names one schema. Read line by
//! line, so memory is one line's whatever the file's size; each message is
//! checked as a seed-format entry of one message is, and problems name the
//! file and the line.

use std::io::{self, BufRead, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{Diagnostic, Error, Result};

/// The header line's `format`.
pub const FORMAT: &str = "flowharness-fixture-lines/1";

/// Whether `path` names a fixture-lines file.
pub fn is_lines(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "jsonl")
}

/// Reads the file line by line: `make` turns each message line and its
/// number into what `each` is handed, with [`Lines`] to read it by. `make`
/// runs on the reader thread, beside `each`, and what it makes crosses in
/// order. Values `each` is done with and puts in its second
/// argument go back to be freed on the reader thread, which made them:
/// a value freed across threads costs the allocator several times more.
/// A bad header line is an error at once.
pub(crate) fn read<T: Send>(
    path: &Path,
    mut make: impl FnMut(usize, &str, &Lines<'_>) -> T + Send,
    each: &mut dyn FnMut(T, &mut Vec<Value>),
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut lines = io::BufReader::with_capacity(1 << 20, file).lines();
    let place = path.display().to_string();
    let bad = |n: usize, what: String| Error::invalid(Diagnostic::new(what).within(format!("line {n}"))).within(&place);
    let header = match lines.next() {
        Some(line) => line.map_err(|e| Error::io(path, e))?,
        None => {
            return Err(bad(
                1,
                format!("empty: the first line names the schemas ({{\"format\": \"{FORMAT}\", \"schemas\": {{...}}}})"),
            ));
        }
    };
    let header: Value = serde_json::from_str(&header).map_err(|e| bad(1, format!("invalid JSON: {e}")))?;
    if header.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(bad(1, format!("the first line must say \"format\": \"{FORMAT}\"")));
    }
    let Some(Value::Object(schemas)) = header.get("schemas") else {
        return Err(bad(
            1,
            "the first line must name \"schemas\": {\"TOPIC\": schema or path}".into(),
        ));
    };
    if schemas.is_empty() {
        return Err(bad(1, "\"schemas\" names no topic".into()));
    }
    let only = (schemas.len() == 1).then(|| schemas.keys().next().cloned()).flatten();
    let rows = Lines {
        schemas,
        only: only.as_deref(),
    };
    // Lines are read and parsed on a thread of their own, in batches, and
    // handed over in order: parsing runs beside whatever `each` does (the
    // checker), and only a few batches are ever in flight.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
    let (back, spent) = std::sync::mpsc::sync_channel::<Vec<Value>>(8);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("fixture-lines".into())
            .spawn_scoped(scope, move || -> io::Result<()> {
                let mut batch = Vec::with_capacity(BATCH);
                for (i, line) in lines.enumerate() {
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    batch.push(make(i + 2, &line, &rows));
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send(full).is_err() {
                            return Ok(());
                        }
                        while let Ok(done) = spent.try_recv() {
                            drop(done);
                        }
                    }
                }
                // The receiver gone means the caller stopped reading.
                tx.send(batch).ok();
                Ok(())
            })
            .map_err(|e| Error::system("starting the fixture-lines reader", e))?;
        let mut done = Vec::new();
        for batch in rx {
            for made in batch {
                each(made, &mut done);
            }
            if !done.is_empty() {
                // The reader behind or gone: freed here instead.
                back.try_send(std::mem::take(&mut done)).ok();
            }
        }
        drop(back);
        reader
            .join()
            .map_err(|_| Error::internal("the fixture-lines reader panicked"))?
            .map_err(|e| Error::io(path, e))
    })
}

/// Lines cross from the reader in batches of this many.
const BATCH: usize = 512;

/// How a file's message lines are read: the header's schemas by topic.
pub(crate) struct Lines<'a> {
    schemas: &'a Map<String, Value>,
    /// The one topic, where the header names one.
    only: Option<&'a str>,
}

/// A message line read straight into its parts, for a line as `generate`
/// writes it: nothing unknown, every part of its type.
pub(crate) struct Row {
    pub(crate) topic: String,
    pub(crate) key: Value,
    pub(crate) partition: Option<i32>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) value: Value,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    key: Value,
    #[serde(default)]
    partition: Option<i64>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    value: Value,
}

impl Lines<'_> {
    /// The line as a seed-format entry of one message (`{"schema", "topic",
    /// "partition", "key", "headers", "messages": [value]}`), or what is
    /// wrong with it.
    pub(crate) fn entry(&self, line: &str) -> std::result::Result<Value, Diagnostic> {
        row_entry(line, self.schemas, self.only)
    }

    /// The line's parts, read without building the entry first; `None`
    /// for anything unusual (a part of another type, an unknown topic, bad
    /// JSON), which [`Lines::entry`] reads and reports on.
    pub(crate) fn row(&self, line: &str) -> Option<Row> {
        let raw: RawRow = serde_json::from_str(line).ok()?;
        let topic = match raw.topic {
            Some(t) => t,
            None => self.only?.to_string(),
        };
        let partition = match raw.partition {
            None => None,
            Some(p) => Some(i32::try_from(p).ok().filter(|p| *p >= 0)?),
        };
        let mut headers = Vec::new();
        for (name, v) in raw.headers.unwrap_or_default() {
            match v {
                Value::String(v) => headers.push((name, v)),
                _ => return None,
            }
        }
        Some(Row {
            topic,
            key: raw.key,
            partition,
            headers,
            value: raw.value,
        })
    }
}

fn row_entry(line: &str, schemas: &Map<String, Value>, only: Option<&str>) -> std::result::Result<Value, Diagnostic> {
    let row: Value = serde_json::from_str(line).map_err(|e| Diagnostic::new(format!("invalid JSON: {e}")))?;
    let Value::Object(mut row) = row else {
        return Err(Diagnostic::new("expected an object with \"value\""));
    };
    if let Some(k) = row
        .keys()
        .find(|k| !["topic", "key", "partition", "headers", "value"].contains(&k.as_str()))
    {
        return Err(Diagnostic::new(format!("unknown key {k:?}")));
    }
    let topic = match row.remove("topic") {
        Some(Value::String(t)) => t,
        None | Some(Value::Null) => match only {
            Some(t) => t.to_string(),
            None => return Err(Diagnostic::new("no \"topic\", and the header names several")),
        },
        Some(other) => return Err(Diagnostic::new(format!("expected a string, found {other}")).within("topic")),
    };
    let Some(schema) = schemas.get(&topic) else {
        return Err(Diagnostic::new(format!(
            "topic {topic:?} has no schema in the first line"
        )));
    };
    let Some(value) = row.remove("value") else {
        return Err(Diagnostic::new("missing \"value\""));
    };
    let mut entry = Map::new();
    entry.insert("schema".into(), schema.clone());
    entry.insert("topic".into(), Value::String(topic));
    entry.insert("partition".into(), row.remove("partition").unwrap_or(Value::Null));
    entry.insert("key".into(), row.remove("key").unwrap_or(Value::Null));
    if let Some(h) = row.remove("headers") {
        entry.insert("headers".into(), h);
    }
    entry.insert("messages".into(), Value::Array(vec![value]));
    Ok(Value::Object(entry))
}

/// Writes fixture lines as messages arrive.
#[derive(Debug)]
pub struct LinesWriter<W: Write> {
    out: W,
    messages: usize,
}

impl<W: Write> LinesWriter<W> {
    /// Starts the file with its header: each topic and its schema (a path
    /// or the schema itself).
    pub fn new(mut out: W, schemas: &[(String, Value)]) -> io::Result<LinesWriter<W>> {
        let schemas: Map<String, Value> = schemas.iter().cloned().collect();
        serde_json::to_writer(&mut out, &json!({ "format": FORMAT, "schemas": schemas })).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
        Ok(LinesWriter { out, messages: 0 })
    }

    /// Writes one message's line, serialized straight from its parts (no
    /// row built and copied first): `{"topic", "key", "partition": null,
    /// "headers", "value"}`. A header named twice keeps its last value.
    pub fn push<K: serde::Serialize + ?Sized>(
        &mut self,
        topic: &str,
        key: &K,
        headers: &[(String, String)],
        value: &Value,
    ) -> io::Result<()> {
        let out = &mut self.out;
        out.write_all(b"{\"topic\":")?;
        serde_json::to_writer(&mut *out, topic).map_err(io::Error::other)?;
        out.write_all(b",\"key\":")?;
        serde_json::to_writer(&mut *out, key).map_err(io::Error::other)?;
        out.write_all(b",\"partition\":null,\"headers\":{")?;
        let mut first = true;
        for (i, (name, _)) in headers.iter().enumerate() {
            if headers[..i].iter().any(|(n, _)| n == name) {
                continue;
            }
            let last = headers
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str());
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, name).map_err(io::Error::other)?;
            out.write_all(b":")?;
            serde_json::to_writer(&mut *out, last).map_err(io::Error::other)?;
        }
        out.write_all(b"},\"value\":")?;
        serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
        out.write_all(b"}\n")?;
        self.messages += 1;
        Ok(())
    }

    /// Ends the file, returning the writer and the messages written.
    pub fn finish(mut self) -> io::Result<(W, usize)> {
        self.out.flush()?;
        Ok((self.out, self.messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_the_row_it_stands_for() {
        let mut w = LinesWriter::new(Vec::new(), &[("t\"1".into(), json!("x.avsc"))]).unwrap();
        let headers = vec![
            ("trace".to_string(), "a\n1".to_string()),
            ("id".to_string(), "7".to_string()),
            ("trace".to_string(), "b2".to_string()),
        ];
        let value = json!({"id": "é\u{1}", "n": [1, 2.5, null], "branch": {"x.Y": {"z": true}}});
        w.push("t\"1", &json!("k-1"), &headers, &value).unwrap();
        w.push("t\"1", &Value::Null, &[], &json!(3)).unwrap();
        let (bytes, n) = w.finish().unwrap();
        assert_eq!(n, 2);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[1],
            json!({"topic": "t\"1", "key": "k-1", "partition": null,
                   "headers": {"trace": "b2", "id": "7"}, "value": value})
        );
        let keys: Vec<&String> = lines[1]["headers"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["trace", "id"]);
        assert_eq!(
            lines[2],
            json!({"topic": "t\"1", "key": null, "partition": null, "headers": {}, "value": 3})
        );
    }
}

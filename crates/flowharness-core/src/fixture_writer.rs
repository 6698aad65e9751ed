//! Writes a fixture in the seed's format as messages arrive, holding only
//! the entry being written: consecutive messages with the same key and
//! topic make one entry, as `Fixture::save` would write them, byte for
//! byte.

use std::io::{self, Write};

use serde_json::{Map, Value};

/// A streaming writer of the seed's format.
#[derive(Debug)]
pub struct FixtureWriter<W: Write> {
    out: W,
    entries: usize,
    messages: usize,
    current: Option<Open>,
}

#[derive(Debug)]
struct Open {
    topic: String,
    key: Value,
    /// The entry's `"schema"`: the schema itself, or a path to it.
    schema: Value,
    headers: Vec<(String, String)>,
    messages: Vec<Value>,
}

impl<W: Write> FixtureWriter<W> {
    pub fn new(out: W) -> FixtureWriter<W> {
        FixtureWriter {
            out,
            entries: 0,
            messages: 0,
            current: None,
        }
    }

    /// Adds a message; `schema` is what the entry's `"schema"` says (taken
    /// only when a new entry starts).
    pub fn push(&mut self, topic: &str, key: &Value, schema: &Value, message: Value) -> io::Result<()> {
        self.push_with_headers(topic, key, schema, Vec::new(), message)
    }

    /// As [`FixtureWriter::push`], for a message with headers: an entry's
    /// messages share its headers, so other headers start a new entry.
    pub fn push_with_headers(
        &mut self,
        topic: &str,
        key: &Value,
        schema: &Value,
        headers: Vec<(String, String)>,
        message: Value,
    ) -> io::Result<()> {
        self.messages += 1;
        if let Some(open) = &mut self.current
            && open.topic == topic
            && open.key == *key
            && open.headers == headers
        {
            open.messages.push(message);
            return Ok(());
        }
        self.flush_open()?;
        self.current = Some(Open {
            topic: topic.to_string(),
            key: key.clone(),
            schema: schema.clone(),
            headers,
            messages: vec![message],
        });
        Ok(())
    }

    fn flush_open(&mut self) -> io::Result<()> {
        let Some(open) = self.current.take() else {
            return Ok(());
        };
        let mut entry = Map::new();
        entry.insert("schema".into(), open.schema);
        entry.insert("partition".into(), Value::Null);
        entry.insert("key".into(), open.key);
        entry.insert("topic".into(), Value::String(open.topic));
        if !open.headers.is_empty() {
            let headers = open.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            entry.insert("headers".into(), Value::Object(headers));
        }
        entry.insert("messages".into(), Value::Array(open.messages));
        let text = serde_json::to_string_pretty(&Value::Object(entry)).map_err(io::Error::other)?;
        let id = serde_json::to_string(&self.entries.to_string()).map_err(io::Error::other)?;
        self.out
            .write_all(if self.entries == 0 { b"{\n  " } else { b",\n  " })?;
        write!(self.out, "{id}: ")?;
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                self.out.write_all(b"\n  ")?;
            }
            self.out.write_all(line.as_bytes())?;
        }
        self.entries += 1;
        Ok(())
    }

    /// Ends the file, returning the writer, the entries and the messages.
    pub fn finish(mut self) -> io::Result<(W, usize, usize)> {
        self.flush_open()?;
        self.out.write_all(if self.entries == 0 { b"{}\n" } else { b"\n}\n" })?;
        self.out.flush()?;
        Ok((self.out, self.entries, self.messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Entry, Fixture, SchemaSource};
    use std::sync::Arc;

    #[test]
    fn it_writes_what_save_writes() {
        let schema = crate::schema::Schema::from_value(&serde_json::json!({
            "type": "record", "name": "R", "fields": [{"name": "n", "type": "int"}]
        }))
        .unwrap();
        let inline = schema.json().clone();
        let schema = Arc::new(schema);
        let rows = [("a", 1), ("a", 2), ("b", 3), ("a", 4)];
        let mut fixture = Fixture::default();
        let mut writer = FixtureWriter::new(Vec::new());
        for (key, n) in rows {
            let key = Value::String(key.into());
            writer.push("t", &key, &inline, serde_json::json!({ "n": n })).unwrap();
            match fixture.entries.last_mut() {
                Some(e) if e.key == key => e.messages.push(serde_json::json!({ "n": n })),
                _ => fixture.entries.push(Entry {
                    id: fixture.entries.len().to_string(),
                    schema: schema.clone(),
                    schema_source: SchemaSource::Inline,
                    topic: "t".into(),
                    partition: None,
                    key,
                    headers: Vec::new(),
                    messages: vec![serde_json::json!({ "n": n })],
                }),
            }
        }
        let (bytes, entries, messages) = writer.finish().unwrap();
        let expected = serde_json::to_string_pretty(&fixture.to_value()).unwrap() + "\n";
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
        assert_eq!((entries, messages), (3, 4));
        let (empty, _, _) = FixtureWriter::new(Vec::new()).finish().unwrap();
        assert_eq!(empty, b"{}\n");
    }
}

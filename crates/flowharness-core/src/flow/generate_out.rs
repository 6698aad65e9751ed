//! `generate`'s output: generated flows written as they are made, in the
//! seed's format (each schema written once beside the file and named by
//! path) or as fixture lines (`.jsonl`), or to a stream with the schema
//! inline. Memory follows the generator's open streams, never the flows.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::FlowSpec;
use super::fixture_io::Keyed;
use super::generator::FlowGenerator;
use crate::error::{Error, Result};

/// What a generation run made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Flows per named path, restarts included.
    pub by_path: BTreeMap<String, u64>,
    pub events: u64,
}

/// Generates the flows of `generator` from `seed` into the file `out`
/// (`.jsonl`: fixture lines; anything else: the seed's format), or into
/// `stdout` in the seed's format with the schemas inline.
pub fn generate_to(
    spec: &FlowSpec,
    generator: &FlowGenerator<'_>,
    seed: u64,
    out: Option<&Path>,
    stdout: &mut dyn Write,
) -> Result<Generated> {
    // Each channel's topic and what its entries' "schema" says: a file
    // written once beside `out`, or the schema inline on stdout.
    let many = spec.channels.len() > 1;
    let mut schemas: Vec<(String, Value)> = Vec::new();
    for c in &spec.channels {
        let reference = match out {
            Some(out) => Value::String(schema_beside(out, &c.topic, &c.schema, many)?),
            None => c.schema.json().clone(),
        };
        schemas.push((c.topic.clone(), reference));
    }
    let target = out.map_or("stdout".to_string(), |p| p.display().to_string());
    let write_failed = |e: std::io::Error| Error::io(std::path::Path::new(&target), e);
    let lines = out.is_some_and(crate::fixture_lines::is_lines);
    let channel_of = |m: &Keyed| m.topic.as_deref().and_then(|t| spec.channel_of(t)).unwrap_or(0);
    let file = match out {
        Some(path) => Some(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path).map_err(|e| Error::io(path, e))?,
        )),
        None => None,
    };
    let (by_path, events) = match (file, lines) {
        (Some(file), true) => {
            let writer = crate::fixture_lines::LinesWriter::new(file, &schemas).map_err(write_failed)?;
            let write = |w: &mut crate::fixture_lines::LinesWriter<_>, channel: usize, m: &mut Keyed| {
                w.push(&schemas[channel].0, m.key.as_str(), &m.headers, &m.value)
            };
            let (by_path, writer) = piped(spec, generator, seed, writer, &write, &write_failed)?;
            (by_path, writer.finish().map_err(write_failed)?.1)
        }
        (Some(file), false) => {
            let writer = crate::fixture_writer::FixtureWriter::new(file);
            let write = |w: &mut crate::fixture_writer::FixtureWriter<_>, channel: usize, m: &mut Keyed| {
                // The seed format groups a key's messages, so it keeps them.
                let (topic, schema) = &schemas[channel];
                let key = Value::String(std::mem::take(&mut m.key));
                w.push_with_headers(topic, &key, schema, std::mem::take(&mut m.headers), m.value.take())
            };
            let (by_path, writer) = piped(spec, generator, seed, writer, &write, &write_failed)?;
            (by_path, writer.finish().map_err(write_failed)?.2)
        }
        (None, _) => {
            let mut writer = crate::fixture_writer::FixtureWriter::new(stdout);
            let by_path = generator.generate_into(seed, &mut |m| {
                let (topic, schema) = &schemas[channel_of(&m)];
                writer
                    .push_with_headers(topic, &Value::String(m.key), schema, m.headers, m.value)
                    .map_err(write_failed)
            })?;
            (by_path, writer.finish().map_err(write_failed)?.2)
        }
    };
    Ok(Generated {
        by_path,
        events: u64::try_from(events).unwrap_or(u64::MAX),
    })
}

/// Messages cross to the writer thread in batches of this many.
const BATCH: usize = 1024;

/// Generates on the calling thread and writes on another: messages cross
/// in order, in batches (a few in flight), so the file is what writing
/// inline makes while serializing and writing run beside the generator.
/// Written batches come back to be freed and refilled here: a value freed
/// on the thread that allocated it costs the allocator far less than one
/// freed across threads. A failed write stops the generator and is the
/// error reported.
fn piped<W: Send>(
    spec: &FlowSpec,
    generator: &FlowGenerator<'_>,
    seed: u64,
    mut sink: W,
    write: &(dyn Fn(&mut W, usize, &mut Keyed) -> std::io::Result<()> + Sync),
    failed: &(dyn Fn(std::io::Error) -> Error + Sync),
) -> Result<(BTreeMap<String, u64>, W)> {
    // Messages cross with their state: the writer takes its topic from it,
    // and a value that comes back is kept by it.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(usize, Keyed)>>(8);
    let (back, returned) = std::sync::mpsc::sync_channel::<Vec<(usize, Keyed)>>(16);
    std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("generate-writer".into())
            .spawn_scoped(scope, move || -> std::io::Result<W> {
                for mut batch in rx {
                    for (state, m) in &mut batch {
                        write(&mut sink, spec.states[*state].channel, m)?;
                    }
                    // The generator gone or behind: the batch is freed here.
                    back.try_send(batch).ok();
                }
                Ok(sink)
            })
            .map_err(|e| Error::system("starting the writer thread", e))?;
        let mut batch = Vec::with_capacity(BATCH);
        let made = generator.generate_reusing(seed, &mut |m, state, spare| {
            batch.push((state, m));
            if batch.len() == BATCH {
                let next = match returned.try_recv() {
                    Ok(mut done) => {
                        // Values written are drawn over by later ones of their state.
                        for (state, m) in done.drain(..) {
                            spare.put(state, m.value);
                        }
                        done
                    }
                    Err(_) => Vec::with_capacity(BATCH),
                };
                let full = std::mem::replace(&mut batch, next);
                // The writer has stopped: its error is reported below.
                tx.send(full)
                    .map_err(|_| Error::internal("the writer thread stopped"))?;
            }
            Ok(())
        });
        if made.is_ok() && !batch.is_empty() {
            // A send that fails here means the writer failed: reported below.
            tx.send(batch).ok();
        }
        drop(tx);
        let written = writer
            .join()
            .map_err(|_| Error::internal("the writer thread panicked"))?;
        drop(returned);
        match (made, written) {
            (_, Err(e)) => Err(failed(e)),
            (Err(e), Ok(_)) => Err(e),
            (Ok(by_path), Ok(sink)) => Ok((by_path, sink)),
        }
    })
}

/// Writes a channel's schema beside the fixture `out` (`orders.json` →
/// `orders.json.avsc`, or `orders.json.TOPIC.avsc` for a flow across
/// topics), returning the path entries name it by.
fn schema_beside(out: &Path, topic: &str, schema: &crate::schema::Schema, many: bool) -> Result<String> {
    let file = out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fixture.json".into());
    let dir = out.parent().unwrap_or_else(|| Path::new(""));
    let ext = match schema.kind() {
        "AVRO" => "avsc",
        "PROTOBUF" => "proto",
        _ => "schema.json",
    };
    let name = if many {
        format!("{file}.{topic}.{ext}")
    } else {
        format!("{file}.{ext}")
    };
    if let crate::schema::Schema::Protobuf(proto) = schema {
        // The .proto's text, and the files it imports beside it under
        // their import names, so the fixture's schema compiles again.
        for import in proto.imports() {
            let target = dir.join(&import.name);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            std::fs::write(&target, &import.source).map_err(|e| Error::io(&target, e))?;
        }
        let target = dir.join(&name);
        std::fs::write(&target, &proto.file().source).map_err(|e| Error::io(&target, e))?;
        return Ok(name);
    }
    let text = serde_json::to_string_pretty(schema.json()).map_err(|e| Error::internal_from("serializing JSON", e))?;
    let target = dir.join(&name);
    std::fs::write(&target, text + "\n").map_err(|e| Error::io(&target, e))?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::generator::FlowOptions;
    use crate::num::Cast as _;

    #[test]
    fn a_written_file_holds_what_generating_in_memory_makes() {
        // Writing to a file draws each value over a written one of its
        // state; the messages must be the ones drawn fresh, in order. An
        // envelope with a payload union and a record with an enum status.
        for name in ["order-saga", "payment-lifecycle"] {
            let spec = crate::flow::shipped::shipped(name).unwrap().unwrap();
            let options = FlowOptions {
                flows: 3000,
                mix: crate::flow::generator::Mix::uniform(&spec),
                hints: std::sync::Arc::new(crate::generate::hints::Hints::builtin(1_790_000_000_000)),
                jitter: 0.5,
                time_scale: 1.0,
            };
            let generator = FlowGenerator::new(&spec, options).unwrap();
            let expected = generator.generate(5).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("flows.jsonl");
            let made = generate_to(&spec, &generator, 5, Some(&out), &mut std::io::sink()).unwrap();
            assert_eq!(made.events, expected.len().sat_u64(), "{name}");
            let text = std::fs::read_to_string(&out).unwrap();
            let rows: Vec<Value> = text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(rows.len(), expected.len(), "{name}");
            for (i, (row, m)) in rows.iter().zip(&expected).enumerate() {
                assert_eq!(row["value"], m.value, "{name}: message {i}");
                assert_eq!(row["key"], m.key.as_str(), "{name}: message {i}");
            }
        }
    }
}

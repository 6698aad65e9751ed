//! `flowharness asyncapi check|init|export`, and AsyncAPI documents in
//! `schema validate`.

use std::io::Write;
use std::path::Path;

use super::AsyncapiCommand;
use super::commands::{BAD_INPUT, OK, stdio};
use crate::asyncapi::{self, Document, model::Correlation};
use crate::error::{Error, Result};
use crate::schema::Schema;

pub(super) fn run(command: AsyncapiCommand, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    match command {
        AsyncapiCommand::Check { doc } => check(&doc, out, err),
        AsyncapiCommand::Init { doc, out: to, force } => {
            let document = Document::load(&doc)?;
            let text = asyncapi::init::overlay_text(&document);
            match to.as_deref() {
                Some(p) if p == Path::new("-") => out.write_all(text.as_bytes()).map_err(stdio)?,
                other => {
                    let path = other.map_or_else(|| asyncapi::overlay_path(&doc), Path::to_path_buf);
                    if path.exists() && !force {
                        return Err(Error::Usage(format!(
                            "{} exists: give --force to overwrite it, or -o FILE",
                            path.display()
                        )));
                    }
                    std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
                    writeln!(
                        out,
                        "wrote {} (check its transitions, then `--flow {}`)",
                        path.display(),
                        doc.display()
                    )
                    .map_err(stdio)?;
                }
            }
            Ok(OK)
        }
        AsyncapiCommand::Export { flow, out: to, format } => {
            let spec = crate::contract::resolve_flow(&flow)?;
            let document = asyncapi::export::document(&spec);
            let json = match format.as_deref() {
                Some("json") => true,
                Some("yaml") | None => {
                    format.is_none() && to.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "json"))
                }
                Some(other) => return Err(Error::Usage(format!("--format {other}: give yaml or json"))),
            };
            let text = if json {
                serde_json::to_string_pretty(&document).map_err(|e| Error::internal_from("serializing JSON", e))? + "\n"
            } else {
                serde_saphyr::to_string(&document).map_err(|e| Error::internal_from("writing YAML", e))?
            };
            match to {
                Some(path) => {
                    std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
                    writeln!(out, "wrote {} (AsyncAPI 3.0.0, flow {})", path.display(), spec.name()).map_err(stdio)?;
                }
                None => out.write_all(text.as_bytes()).map_err(stdio)?,
            }
            Ok(OK)
        }
    }
}

fn kind(schema: &Schema) -> &'static str {
    match schema {
        Schema::Avro(_) => "Avro",
        Schema::Json(_) => "JSON Schema",
        Schema::Protobuf(_) => "Protobuf",
    }
}

/// Prints what flowharness takes from a document, and loads its flow
/// when it has an overlay.
fn check(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let doc = Document::load(path)?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(stdio);
    w(
        out,
        format!("{}: AsyncAPI {} \"{}\"", path.display(), doc.version_text, doc.title),
    )?;
    for channel in &doc.channels {
        let partitions = channel
            .partitions
            .map(|p| format!(", {p} partitions"))
            .unwrap_or_default();
        w(
            out,
            format!("  channel {} → topic {}{partitions}", channel.id, channel.topic),
        )?;
        for m in &channel.messages {
            let correlation = match &m.correlation {
                Some((Correlation::Payload(p), _)) => format!(", correlation id payload {p}"),
                Some((Correlation::Header(h), _)) => format!(", correlation id header {h}"),
                None => String::new(),
            };
            let key = if m.key.is_some() { ", key schema" } else { "" };
            w(
                out,
                format!(
                    "    message {}: {}{correlation}{key}, {} example(s) valid",
                    m.name,
                    kind(&m.schema),
                    m.examples.len()
                ),
            )?;
        }
    }
    for op in &doc.operations {
        let reply = op
            .reply
            .as_ref()
            .map(|r| format!(", replies on {r}"))
            .unwrap_or_default();
        w(
            out,
            format!(
                "  operation {}: {} on {} ({}){reply}",
                op.id,
                op.action,
                op.channel,
                op.messages.join(", ")
            ),
        )?;
    }
    let overlay = asyncapi::overlay_path(path);
    if doc.overlay.is_some() || overlay.exists() {
        match asyncapi::import::flow_spec_of(&doc) {
            Ok(spec) => w(
                out,
                format!(
                    "  flow {}: {} states, {} paths, topics {}",
                    spec.name(),
                    spec.states().len(),
                    spec.paths().len(),
                    spec.channels()
                        .iter()
                        .map(|c| c.topic.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )?,
            Err(e) => {
                for d in e.diagnostics() {
                    writeln!(err, "error: {d}").map_err(stdio)?;
                }
                return Ok(BAD_INPUT);
            }
        }
    } else {
        w(
            out,
            format!(
                "  no overlay: `flowharness asyncapi init {}` writes one",
                path.display()
            ),
        )?;
    }
    Ok(OK)
}

/// `schema validate DOC`: every message's payload schema and examples.
pub(super) fn validate_doc(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    match Document::load(path) {
        Ok(doc) => {
            for (_, m) in doc.messages() {
                writeln!(
                    out,
                    "ok: {}: {} {}, {} examples valid",
                    m.place.name(),
                    kind(&m.schema),
                    m.name,
                    m.examples.len()
                )
                .map_err(stdio)?;
            }
            Ok(OK)
        }
        Err(e) => {
            for d in e.diagnostics() {
                writeln!(err, "error: {d}").map_err(stdio)?;
            }
            Ok(BAD_INPUT)
        }
    }
}

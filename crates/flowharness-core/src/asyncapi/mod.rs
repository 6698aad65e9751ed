//! AsyncAPI 2.x and 3.0 documents as contracts: channels are topics,
//! messages are schemas (Avro, JSON Schema or AsyncAPI's own schema
//! dialect), `correlationId` is the flow id, and an overlay adds what
//! AsyncAPI cannot say (states, transitions, paths, timing). Also the
//! way back: a flow spec as an AsyncAPI 3.0 document.

pub mod document;
pub mod export;
pub mod import;
pub mod init;
mod message;
pub mod model;

use std::path::Path;

pub use import::{flow_spec, overlay_path};
pub use model::{Document, is_asyncapi};

use crate::error::{Error, Result};
use crate::schema::Schema;

/// One message's payload schema from `DOC` (a document with one message)
/// or `DOC#NAME` (the message by name, or `CHANNEL/NAME`).
pub fn message_schema(arg: &str) -> Result<Schema> {
    let (file, name) = match arg.split_once('#') {
        Some((f, n)) => (f, Some(n)),
        None => (arg, None),
    };
    let doc = Document::load(Path::new(file))?;
    let all: Vec<(String, &Schema)> = doc
        .messages()
        .map(|(c, m)| (format!("{}/{}", c.id, m.name), &m.schema))
        .collect();
    let chosen: Vec<&(String, &Schema)> = match name {
        Some(n) => all
            .iter()
            .filter(|(full, _)| full == n || full.rsplit('/').next() == Some(n))
            .collect(),
        None => all.iter().collect(),
    };
    match chosen.as_slice() {
        [(_, schema)] => Ok((*schema).clone()),
        _ => {
            let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
            let why = match name {
                Some(n) if chosen.is_empty() => format!("no message {n:?}"),
                Some(n) => format!("several messages named {n:?}: give CHANNEL/NAME"),
                None => "the document has several messages: give one as DOC#NAME".to_string(),
            };
            Err(Error::Usage(format!("{file}: {why} (messages: {})", names.join(", "))))
        }
    }
}

//! What a `--flow` or `--schema` argument names, in any of the forms
//! flowharness reads: a shipped flow or schema, a flow spec (TOML), a
//! schema file, or an AsyncAPI document (with its overlay).

use std::path::Path;

use crate::asyncapi;
use crate::error::Result;
use crate::flow::{FlowSpec, shipped};
use crate::schema::Schema;

/// The flow a `--flow` argument names: a shipped flow, a spec file, or an
/// AsyncAPI document (YAML or JSON) with its overlay.
pub fn resolve_flow(arg: &str) -> Result<FlowSpec> {
    let path = Path::new(arg);
    if asyncapi::is_asyncapi(path) {
        return asyncapi::flow_spec(path);
    }
    shipped::resolve(arg)
}

/// The schema a schema argument names: a shipped schema by name, a schema
/// file, or one message of an AsyncAPI document (`DOC` or `DOC#NAME`).
pub fn resolve_schema(arg: &str) -> Result<Schema> {
    let file = arg.split_once('#').map_or(arg, |(f, _)| f);
    if asyncapi::is_asyncapi(Path::new(file)) {
        return asyncapi::message_schema(arg);
    }
    shipped::resolve_schema(arg)
}

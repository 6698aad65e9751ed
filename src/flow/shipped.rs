//! The flows shipped in the binary, so `--flow account-migration` works from
//! any folder. Their files are the ones under `flows/` and `schemas/`.

use std::path::Path;

use super::spec::{FlowSpec, spec_path};
use crate::error::{Error, Result};
use crate::schema::Schema;

const SHIPPED: &[(&str, &str)] = &[
    ("account-migration", include_str!("../../flows/account-migration.toml")),
    (
        "subscription-catalog",
        include_str!("../../flows/subscription-catalog.toml"),
    ),
];

const SCHEMAS: &[(&str, &str)] = &[
    (
        "../schemas/account-migration-event.avsc",
        include_str!("../../schemas/account-migration-event.avsc"),
    ),
    (
        "../schemas/subscription-event.schema.json",
        include_str!("../../schemas/subscription-event.schema.json"),
    ),
];

/// Names of the shipped flows.
pub fn names() -> Vec<&'static str> {
    SHIPPED.iter().map(|(n, _)| *n).collect()
}

/// A shipped flow by name.
pub fn shipped(name: &str) -> Option<Result<FlowSpec>> {
    let (_, text) = SHIPPED.iter().find(|(n, _)| *n == name)?;
    let load_schema = |path: &str| -> Result<Schema> {
        let (_, schema) = SCHEMAS
            .iter()
            .find(|(p, _)| *p == path)
            .ok_or_else(|| Error::Usage(format!("shipped flow {name} names an unknown schema {path}")))?;
        let json = crate::error::parse_json(schema)?;
        Schema::from_value(&json)
    };
    Some(FlowSpec::parse(text, &load_schema).map_err(|e| e.within(&format!("flows/{name}.toml"))))
}

/// The flow a `--flow` argument names: a spec file path, a shipped flow,
/// or a file `flows/NAME.toml` in the current folder.
pub fn resolve(arg: &str) -> Result<FlowSpec> {
    let looks_like_path = arg.contains('/') || arg.ends_with(".toml");
    if !looks_like_path && let Some(spec) = shipped(arg) {
        return spec;
    }
    let path = spec_path(arg);
    if looks_like_path || Path::new(&path).exists() {
        return FlowSpec::load(&path);
    }
    Err(Error::Usage(format!(
        "unknown flow {arg:?}: give a spec file path or one of {}",
        names().join(", ")
    )))
}

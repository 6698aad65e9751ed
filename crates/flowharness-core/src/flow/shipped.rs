//! The flows shipped in the binary, so `--flow account-migration` works from
//! any folder. Their files are the ones under `flows/` and `schemas/`.

use std::path::Path;

use super::spec::{FlowSpec, spec_path};
use crate::error::{Error, Result};
use crate::schema::Schema;

const SHIPPED: &[(&str, &str)] = &[
    (
        "account-migration",
        include_str!("../../../../flows/account-migration.toml"),
    ),
    (
        "subscription-catalog",
        include_str!("../../../../flows/subscription-catalog.toml"),
    ),
    ("order-saga", include_str!("../../../../flows/order-saga.toml")),
    (
        "payment-lifecycle",
        include_str!("../../../../flows/payment-lifecycle.toml"),
    ),
    ("checkout-saga", include_str!("../../../../flows/checkout-saga.toml")),
    (
        "account-lifecycle",
        include_str!("../../../../flows/account-lifecycle.toml"),
    ),
];

const SCHEMAS: &[(&str, &str)] = &[
    (
        "../schemas/account-migration-event.avsc",
        include_str!("../../../../schemas/account-migration-event.avsc"),
    ),
    (
        "../schemas/subscription-event.schema.json",
        include_str!("../../../../schemas/subscription-event.schema.json"),
    ),
    (
        "../schemas/order-event.avsc",
        include_str!("../../../../schemas/order-event.avsc"),
    ),
    (
        "../schemas/payment.avsc",
        include_str!("../../../../schemas/payment.avsc"),
    ),
    (
        "../schemas/checkout-order.avsc",
        include_str!("../../../../schemas/checkout-order.avsc"),
    ),
    (
        "../schemas/account-events.avsc",
        include_str!("../../../../schemas/account-events.avsc"),
    ),
    (
        "../schemas/payment-event.schema.json",
        include_str!("../../../../schemas/payment-event.schema.json"),
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
        let (_, text) = SCHEMAS
            .iter()
            .find(|(p, _)| *p == path)
            .ok_or_else(|| Error::Usage(format!("shipped flow {name} names an unknown schema {path}")))?;
        parse_shipped_schema(path, text)
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

/// A shipped schema's text, parsed; errors name its file.
fn parse_shipped_schema(path: &str, text: &str) -> Result<Schema> {
    let file = path.trim_start_matches("../");
    let json = crate::error::parse_json(text).map_err(|e| e.within(file))?;
    Schema::from_value(&json).map_err(|e| e.within(file))
}

/// Names of the shipped schemas: their file names without the extension.
pub fn schema_names() -> Vec<&'static str> {
    SCHEMAS.iter().map(|(p, _)| stem(p)).collect()
}

fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.trim_end_matches(".avsc").trim_end_matches(".schema.json")
}

/// The schema an argument names: a file path, or a shipped schema by name
/// (`account-migration-event`).
pub fn resolve_schema(arg: &str) -> Result<Schema> {
    let looks_like_path = arg.contains('/') || arg.ends_with(".avsc") || arg.ends_with(".json");
    if !looks_like_path && let Some((path, text)) = SCHEMAS.iter().find(|(p, _)| stem(p) == arg) {
        return parse_shipped_schema(path, text);
    }
    if looks_like_path {
        return Schema::load(Path::new(arg));
    }
    Err(Error::Usage(format!(
        "unknown schema {arg:?}: give a schema file path or one of {}",
        schema_names().join(", ")
    )))
}

//! `flowharness sample`: realistic values of any schema.

use std::io::Write;
use std::sync::Arc;

use super::commands::{OK, stdio};
use super::{GenerateOptions, SampleArgs, SampleFormat};
use crate::codec::{binary, confluent};
use crate::error::{Error, Result};
use crate::generate::hints::Hints;
use crate::generate::{sample, time};
use crate::schema::Schema;

/// The hints, "now" and seed of a generating command, with the line that
/// lets a run be replayed.
pub(super) fn setup(options: &GenerateOptions, err: &mut dyn Write) -> Result<(Arc<Hints>, u64)> {
    let now = options
        .now
        .as_deref()
        .map(time::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("--now: {e}")))?;
    let hints = match &options.hints {
        Some(path) => Hints::load(path, now)?,
        None => Hints::builtin(now.unwrap_or_else(time::today_ms)),
    };
    let seed = options.seed.unwrap_or_else(sample::fresh_seed);
    writeln!(
        err,
        "seed: {seed} (replay with --seed {seed} --now {})",
        time::format_date(hints.now_ms)
    )
    .map_err(stdio)?;
    Ok((Arc::new(hints), seed))
}

pub(super) fn run(args: &SampleArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let schema = match args.schema.to_str() {
        Some(arg) if crate::asyncapi::is_asyncapi(std::path::Path::new(arg.split('#').next().unwrap_or(arg))) => {
            crate::contract::resolve_schema(arg)?
        }
        _ => Schema::load(&args.schema)?,
    };
    if args.format == SampleFormat::Binary && matches!(schema, Schema::Json(_)) {
        return Err(Error::Usage(
            "--format binary needs an Avro or Protobuf schema; JSON Schema values are JSON".into(),
        ));
    }
    let (hints, seed) = setup(&args.generate, err)?;
    let strategy = sample::strategy(&schema, &hints, args.branch.as_deref())
        .map_err(|e| e.within(&args.schema.display().to_string()))?;
    for value in sample::values(&strategy, args.count, seed)? {
        let line = match (&schema, args.format) {
            (Schema::Avro(avro), SampleFormat::Binary) => {
                let payload = binary::encode_to_vec(avro, &value)
                    .map_err(|v| Error::Invalid(v.iter().map(|v| v.to_diagnostic()).collect()))?;
                let bytes = match args.schema_id {
                    Some(id) => confluent::frame(id, &payload),
                    None => payload,
                };
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
            (Schema::Protobuf(proto), SampleFormat::Binary) => {
                let bytes = match args.schema_id {
                    Some(id) => {
                        let mut out = Vec::new();
                        confluent::write_header(&mut out, id);
                        crate::codec::protobuf::encode_payload(proto, &value, &mut out)
                            .map_err(|e| Error::Usage(e.to_string()))?;
                        out
                    }
                    None => crate::codec::protobuf::encode_message(proto, &value)
                        .map_err(|e| Error::Usage(e.to_string()))?,
                };
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
            _ => serde_json::to_string(&value).map_err(|e| Error::internal_from("serializing JSON", e))?,
        };
        writeln!(out, "{line}").map_err(stdio)?;
    }
    Ok(OK)
}

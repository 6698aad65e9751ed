//! `flowharness generate` and `flowharness verify --file`.

use std::collections::BTreeMap;
use std::io::Write;

use super::commands::{FINDINGS, OK, stdio};
use super::{GenerateArgs, IncompleteLevel, VerifyArgs};
use crate::error::{Error, Result};
use crate::fixture::Fixture;
use crate::flow::checker::{CheckOptions, Checker, Report};
use crate::flow::generator::{self, FlowOptions, Mix};
use crate::flow::{Severity, fixture_io, shipped};

pub(super) fn generate(args: &GenerateArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec = shipped::resolve(&args.flow)?;
    let mix = match &args.mix {
        Some(m) => Mix::parse(&spec, m)?,
        None => Mix::uniform(&spec),
    };
    if args.flows == 0 {
        return Err(Error::Usage("--flows must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&args.jitter) || args.time_scale <= 0.0 {
        return Err(Error::Usage(
            "--jitter must be within 0-1 and --time-scale above 0".into(),
        ));
    }
    let (hints, seed) = super::sample::setup(&args.generate, err)?;
    let options = FlowOptions {
        flows: args.flows,
        mix,
        hints,
        jitter: args.jitter,
        time_scale: args.time_scale,
    };
    let generator = generator::FlowGenerator::new(&spec, options)?;
    // Each channel's topic and what its entries' "schema" says: a file
    // written once beside --out, or the schema inline on stdout.
    let many = spec.channels.len() > 1;
    let mut schemas: Vec<(String, serde_json::Value)> = Vec::new();
    for c in &spec.channels {
        let reference = match &args.out {
            Some(out) => serde_json::Value::String(schema_beside(out, &c.topic, &c.schema, many)?),
            None => c.schema.json().clone(),
        };
        schemas.push((c.topic.clone(), reference));
    }
    let target = args
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let sink: Box<dyn Write + '_> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path).map_err(|e| Error::io(path, e))?,
        )),
        None => Box::new(&mut *out),
    };
    let write_failed = |e: std::io::Error| Error::Usage(format!("{target}: {e}"));
    let lines = args.out.as_deref().is_some_and(crate::fixture_lines::is_lines);
    let channel_of = |m: &fixture_io::Keyed| m.topic.as_deref().and_then(|t| spec.channel_of(t)).unwrap_or(0);
    let (by_path, events) = if lines {
        let mut writer = crate::fixture_lines::LinesWriter::new(sink, &schemas).map_err(write_failed)?;
        let by_path = generator.generate_into(seed, &mut |m| {
            let topic = &schemas[channel_of(&m)].0;
            writer
                .push(topic, &serde_json::Value::String(m.key), &[], &m.value)
                .map_err(write_failed)
        })?;
        (by_path, writer.finish().map_err(write_failed)?.1)
    } else {
        let mut writer = crate::fixture_writer::FixtureWriter::new(sink);
        let by_path = generator.generate_into(seed, &mut |m| {
            let (topic, schema) = &schemas[channel_of(&m)];
            writer
                .push(topic, &serde_json::Value::String(m.key), schema, m.value)
                .map_err(write_failed)
        })?;
        (by_path, writer.finish().map_err(write_failed)?.2)
    };
    let paths: Vec<String> = by_path.iter().map(|(p, n)| format!("{p} {n}")).collect();
    let restarts = by_path.values().sum::<u64>().saturating_sub(args.flows as u64);
    writeln!(
        err,
        "generated {} flows and {restarts} restarts ({}), {events} events → {target}",
        args.flows,
        paths.join(", "),
    )
    .map_err(stdio)?;
    Ok(OK)
}

/// Writes a channel's schema beside the fixture `out` (`orders.json` →
/// `orders.json.avsc`, or `orders.json.TOPIC.avsc` for a flow across
/// topics), returning the path entries name it by.
fn schema_beside(out: &std::path::Path, topic: &str, schema: &crate::schema::Schema, many: bool) -> Result<String> {
    let file = out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fixture.json".into());
    let dir = out.parent().unwrap_or_else(|| std::path::Path::new(""));
    let ext = if schema.kind() == "AVRO" { "avsc" } else { "schema.json" };
    let name = if many {
        format!("{file}.{topic}.{ext}")
    } else {
        format!("{file}.{ext}")
    };
    let text = serde_json::to_string_pretty(schema.json()).map_err(|e| Error::Usage(e.to_string()))?;
    let target = dir.join(&name);
    std::fs::write(&target, text + "\n").map_err(|e| Error::io(&target, e))?;
    Ok(name)
}

pub(super) fn verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<i32> {
    let spec = shipped::resolve(&args.flow)?;
    let Some(file) = &args.file else {
        return Err(Error::Usage("verify needs --file or --topic".into()));
    };
    let options = CheckOptions {
        incomplete: args.incomplete.map(|l| {
            if l == IncompleteLevel::Error {
                Severity::Error
            } else {
                Severity::Warning
            }
        }),
        time_scale: args.time_scale,
        ..CheckOptions::default()
    };
    let mut checker = Checker::new(&spec, options);
    // Entry by entry: the file is never held whole.
    let mut numbering = fixture_io::Numbering::default();
    Fixture::visit(file, &mut |entry| numbering.each(&entry, &mut |m| checker.observe(&m)))?;
    let report = checker.finish();
    write_report(&report, out)?;
    if let Some(path) = &args.junit {
        crate::report::junit::write(
            path,
            &format!("verify {} against {}", file.display(), spec.name),
            &report,
        )?;
    }
    Ok(if report.errors > 0 { FINDINGS } else { OK })
}

/// Every finding, then a summary.
pub(crate) fn write_report(report: &Report, out: &mut dyn Write) -> Result<()> {
    for f in &report.findings {
        writeln!(out, "{f}").map_err(stdio)?;
    }
    let shown = report.findings.len() as u64;
    if shown < report.errors + report.warnings {
        writeln!(
            out,
            "… {} more findings not shown",
            report.errors + report.warnings - shown
        )
        .map_err(stdio)?;
    }
    // The counts, not the findings kept (at most `max_findings`).
    let by = |sev: Severity| -> String {
        let counts = match sev {
            Severity::Error => &report.error_counts,
            Severity::Warning => &report.warning_counts,
        };
        let mut named: BTreeMap<&str, u64> = BTreeMap::new();
        for (rule, n) in counts {
            named.insert(rule.name(), *n);
        }
        named
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let complete: Vec<String> = report
        .complete_by_path
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    writeln!(
        out,
        "summary: {} messages, {} flows started, complete: {}",
        report.messages,
        report.flows_started,
        if complete.is_empty() {
            "none".to_string()
        } else {
            complete.join(", ")
        }
    )
    .map_err(stdio)?;
    writeln!(
        out,
        "violations: {} ({}); warnings: {} ({})",
        report.errors,
        by(Severity::Error),
        report.warnings,
        by(Severity::Warning)
    )
    .map_err(stdio)?;
    Ok(())
}

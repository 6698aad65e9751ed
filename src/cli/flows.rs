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
    let messages = generator::generate(&spec, &options, seed)?;
    let fixture = fixture_io::to_fixture_of(&spec, None, &messages);
    // The summary comes from checking what was generated.
    let mut checker = Checker::new(&spec, CheckOptions::default());
    for m in fixture_io::observed(&fixture) {
        checker.observe(&m);
    }
    let report = checker.finish();
    let paths: Vec<String> = report
        .complete_by_path
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    match &args.out {
        Some(path) => {
            let mut fixture = fixture;
            by_path(&mut fixture, path)?;
            fixture.save(path)?;
        }
        None => {
            let text = serde_json::to_string_pretty(&fixture.to_value()).map_err(|e| Error::Usage(e.to_string()))?;
            writeln!(out, "{text}").map_err(stdio)?;
        }
    }
    let target = args
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let restarts = report.flows_started.saturating_sub(args.flows as u64);
    writeln!(
        err,
        "generated {} flows and {restarts} restarts ({}), {} events → {target}",
        args.flows,
        paths.join(", "),
        messages.len()
    )
    .map_err(stdio)?;
    Ok(OK)
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
/// Writes each schema of a fixture once, beside it
/// (`orders.json` → `orders.json.schema.avsc`, one per topic when there
/// are several), and has the entries name it by path instead of holding it
/// inline: the seed's format, without a copy of the schema per entry.
fn by_path(fixture: &mut Fixture, out: &std::path::Path) -> Result<()> {
    let file = out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fixture.json".into());
    let dir = out.parent().unwrap_or_else(|| std::path::Path::new(""));
    let mut written: Vec<(String, String)> = Vec::new();
    let many = {
        let mut topics: Vec<&str> = fixture.entries.iter().map(|e| e.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        topics.len() > 1
    };
    for entry in &mut fixture.entries {
        let name = match written.iter().find(|(t, _)| *t == entry.topic) {
            Some((_, n)) => n.clone(),
            None => {
                let ext = if entry.schema.kind() == "AVRO" {
                    "avsc"
                } else {
                    "schema.json"
                };
                let name = if many {
                    format!("{file}.{}.{ext}", entry.topic)
                } else {
                    format!("{file}.{ext}")
                };
                let text =
                    serde_json::to_string_pretty(entry.schema.json()).map_err(|e| Error::Usage(e.to_string()))?;
                let target = dir.join(&name);
                std::fs::write(&target, text + "\n").map_err(|e| Error::io(&target, e))?;
                written.push((entry.topic.clone(), name.clone()));
                name
            }
        };
        entry.schema_source = crate::fixture::SchemaSource::Path(name);
    }
    Ok(())
}

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

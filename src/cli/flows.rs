//! `flowharness generate` and `flowharness verify --file`.

use crate::num::Cast as _;
use std::collections::BTreeMap;
use std::io::Write;

use super::commands::{FINDINGS, OK, stdio};
use super::{GenerateArgs, IncompleteLevel, VerifyArgs};
use crate::error::{Error, Result};
use crate::flow::checker::{CheckOptions, Report};
use crate::flow::generator::{self, FlowOptions, Mix};
use crate::flow::{Severity, fixture_io, generate_out};

pub(super) fn generate(args: &GenerateArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec = crate::contract::resolve_flow(&args.flow)?;
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
    let made = generate_out::generate_to(&spec, &generator, seed, args.out.as_deref(), out)?;
    let target = args
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let paths: Vec<String> = made.by_path.iter().map(|(p, n)| format!("{p} {n}")).collect();
    let restarts = made.by_path.values().sum::<u64>().saturating_sub(args.flows.sat_u64());
    writeln!(
        err,
        "generated {} flows and {restarts} restarts ({}), {} events → {target}",
        args.flows,
        paths.join(", "),
        made.events,
    )
    .map_err(stdio)?;
    Ok(OK)
}

pub(super) fn verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<i32> {
    let spec = crate::contract::resolve_flow(&args.flow)?;
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
        dedupe_window: usize::try_from(args.window).unwrap_or(usize::MAX),
        ..CheckOptions::default()
    };
    let report = fixture_io::check_file(&spec, file, options)?;
    write_report(&report, out)?;
    if let (Some(dir), true) = (&args.save_failures, report.errors > 0) {
        save_violations(
            dir,
            &args.flow,
            &spec,
            ("flowharness verify", &file.display().to_string()),
            &crate::verify::keys_with_violations(&report),
            &mut |keys| fixture_io::keyed_messages(file, &|k| keys.contains(k)),
            out,
        )?;
    }
    if let Some(path) = &args.junit {
        crate::report::junit::write(
            path,
            &format!("verify {} against {}", file.display(), spec.name()),
            &report,
        )?;
    }
    Ok(if report.errors > 0 { FINDINGS } else { OK })
}

/// Saves the flows of `keys` (those with violations) as a replay: a
/// fixture of what `read` finds of them and a feature file, named after
/// `source` (a file, a topic) and said to come from `by`.
pub(super) fn save_violations(
    dir: &std::path::Path,
    flow: &str,
    spec: &crate::flow::FlowSpec,
    (by, source): (&str, &str),
    keys: &[String],
    read: &mut dyn FnMut(&std::collections::HashSet<String>) -> Result<Vec<crate::flow::fixture_io::Keyed>>,
    out: &mut dyn Write,
) -> Result<()> {
    if keys.is_empty() {
        writeln!(out, "not saved: no violation names an account, so no flows replay it").map_err(stdio)?;
        return Ok(());
    }
    let wanted: std::collections::HashSet<String> = keys.iter().cloned().collect();
    let messages = read(&wanted)?;
    let stem: String = std::path::Path::new(source)
        .file_stem()
        .map_or_else(|| "flows".into(), |s| s.to_string_lossy().into_owned())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let origin = format!(
        "Saved by {by}: the flows of {} account{} with violations in {source}.",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" },
    );
    let saved =
        crate::hunt::replay::save_violations(dir, &format!("{stem}-violations"), flow, spec, &messages, &origin)?;
    writeln!(out, "{saved}").map_err(stdio)
}

/// Every finding, then a summary.
pub(crate) fn write_report(report: &Report, out: &mut dyn Write) -> Result<()> {
    for f in &report.findings {
        writeln!(out, "{f}").map_err(stdio)?;
    }
    let shown = report.findings.len().sat_u64();
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

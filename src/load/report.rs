//! A load run's report: the JSON file, the terminal summary, a
//! self-contained HTML page with SVG plots, and the merge of shards.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use super::metrics::{Latency, Tick, merge_named, merge_timelines};
use super::observe::ObservedSummary;
use super::{EventCounts, FlowCounts, LoadReport, REPORT_FORMAT, Slo};
use crate::error::{Error, Result};

/// Writes the JSON report.
pub fn save(report: &LoadReport, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(|e| Error::Usage(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
}

/// Reads a JSON report, checking it against the report's JSON Schema.
pub fn load(path: &Path) -> Result<LoadReport> {
    let text = crate::error::read_to_string(path)?;
    let json = crate::error::parse_json(&text).map_err(|e| e.within(&path.display().to_string()))?;
    let schema = report_schema()?;
    let problems: Vec<_> = schema.validate(&json).into_iter().map(|v| v.to_diagnostic()).collect();
    if !problems.is_empty() {
        return Err(Error::Invalid(problems).within(&path.display().to_string()));
    }
    serde_json::from_value(json).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

/// The JSON Schema that describes the report.
pub fn report_schema() -> Result<crate::schema::Schema> {
    let json = crate::error::parse_json(include_str!("../../schemas/load-report.schema.json"))?;
    crate::schema::Schema::from_value(&json)
}

/// Merges shards' reports: counts add, histograms merge exactly, rates
/// add, the run lasts as long as its longest shard.
pub fn merge(reports: &[LoadReport]) -> Result<LoadReport> {
    let first = reports
        .first()
        .ok_or_else(|| Error::Usage("report merge: no reports given".into()))?;
    if let Some(other) = reports.iter().find(|r| r.flow != first.flow || r.topic != first.topic) {
        return Err(Error::Usage(format!(
            "report merge: shards of different runs (flow {} topic {}, and flow {} topic {})",
            first.flow, first.topic, other.flow, other.topic
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for shard in reports.iter().flat_map(|r| &r.shards) {
        if shard.count != first.shards.first().map_or(shard.count, |s| s.count) {
            return Err(Error::Usage(format!(
                "report merge: shards of different splits ({}/{} beside {}/{})",
                shard.index, shard.count, first.shards[0].index, first.shards[0].count
            )));
        }
        if !seen.insert(shard.index) {
            return Err(Error::Usage(format!(
                "report merge: shard {}/{} given twice",
                shard.index, shard.count
            )));
        }
    }
    let seconds = reports.iter().map(|r| r.seconds).fold(0.0, f64::max);
    let sum = |f: &dyn Fn(&LoadReport) -> u64| reports.iter().map(f).sum::<u64>();
    let mut by_path = std::collections::BTreeMap::new();
    for r in reports {
        for (p, n) in &r.flows.by_path {
            *by_path.entry(p.clone()).or_insert(0) += n;
        }
    }
    let sent = sum(&|r| r.events.sent);
    let failed = sum(&|r| r.events.failed);
    let observed: Vec<&ObservedSummary> = reports.iter().filter_map(|r| r.observed.as_ref()).collect();
    let observed = (!observed.is_empty()).then(|| merge_observed(&observed));
    let mut merged = LoadReport {
        format: REPORT_FORMAT.into(),
        flow: first.flow.clone(),
        topic: first.topic.clone(),
        shards: reports.iter().flat_map(|r| r.shards.clone()).collect(),
        seed: first.seed,
        rate: first.rate.clone(),
        time_scale: first.time_scale,
        interrupted: reports.iter().any(|r| r.interrupted),
        seconds,
        flows: FlowCounts {
            started: sum(&|r| r.flows.started),
            finished_sending: sum(&|r| r.flows.finished_sending),
            in_flight_at_end: sum(&|r| r.flows.in_flight_at_end),
            peak_in_flight: sum(&|r| r.flows.peak_in_flight),
            by_path,
        },
        events: EventCounts {
            sent,
            acknowledged: sum(&|r| r.events.acknowledged),
            failed,
            error_rate: if sent == 0 { 0.0 } else { failed as f64 / sent as f64 },
        },
        failures: reports.iter().flat_map(|r| r.failures.clone()).take(100).collect(),
        flows_per_second: reports.iter().map(|r| r.flows_per_second).sum(),
        events_per_second: reports.iter().map(|r| r.events_per_second).sum(),
        ack_latency: Latency::merge(reports.iter().map(|r| &r.ack_latency)),
        observed,
        consumer_group: reports.iter().find_map(|r| r.consumer_group.clone()),
        timeline: merge_timelines(reports.iter().map(|r| &r.timeline)),
        slo: Slo::default(),
    };
    merged.apply_slo(first.slo.max_p99_ms, first.slo.max_error_rate);
    Ok(merged)
}

fn merge_observed(all: &[&ObservedSummary]) -> ObservedSummary {
    let mut out = ObservedSummary {
        end_to_end: merge_named(all.iter().map(|o| &o.end_to_end)),
        ..ObservedSummary::default()
    };
    for o in all {
        out.messages += o.messages;
        out.lost += o.lost;
        out.violations += o.violations;
        out.warnings += o.warnings;
        out.timed_out |= o.timed_out;
        for (k, v) in &o.by_rule {
            *out.by_rule.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &o.complete_by_path {
            *out.complete_by_path.entry(k.clone()).or_insert(0) += v;
        }
        out.findings
            .extend(o.findings.iter().take(20 - out.findings.len().min(20)).cloned());
    }
    out
}

/// The terminal summary.
pub fn write_summary(r: &LoadReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "load {} → {}: {:.1}s{}",
        r.flow,
        r.topic,
        r.seconds,
        if r.interrupted { " (interrupted)" } else { "" }
    )?;
    writeln!(
        out,
        "flows: {} started ({:.0}/s, target {}), {} finished sending, peak {} in flight",
        r.flows.started, r.flows_per_second, r.rate, r.flows.finished_sending, r.flows.peak_in_flight
    )?;
    let paths: Vec<String> = r.flows.by_path.iter().map(|(p, n)| format!("{p} {n}")).collect();
    writeln!(out, "paths: {}", paths.join(", "))?;
    writeln!(
        out,
        "events: {} sent ({:.0}/s), {} acknowledged, {} failed ({:.4}%)",
        r.events.sent,
        r.events_per_second,
        r.events.acknowledged,
        r.events.failed,
        r.events.error_rate * 100.0
    )?;
    let l = &r.ack_latency;
    writeln!(
        out,
        "ack latency (from intended send time): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
    )?;
    if let Some(o) = &r.observed {
        writeln!(
            out,
            "observed: {} messages, {} lost, {} violations, {} warnings",
            o.messages, o.lost, o.violations, o.warnings
        )?;
        for (state, l) in &o.end_to_end {
            writeln!(
                out,
                "  end to end {state}: p50 {:.1} ms, p99 {:.1} ms ({} events)",
                l.p50_ms, l.p99_ms, l.count
            )?;
        }
        for f in &o.findings {
            writeln!(out, "  {f}")?;
        }
    }
    if let Some(g) = &r.consumer_group {
        match g.seconds_to_drain {
            Some(s) => writeln!(out, "consumer group {}: drained {s:.1}s after the run", g.group)?,
            None => writeln!(out, "consumer group {}: {} messages behind", g.group, g.remaining)?,
        }
    }
    for b in &r.slo.breaches {
        writeln!(out, "SLO breached: {b}")?;
    }
    Ok(())
}

/// One line of a plot: its name, its colour and its (x, y) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A polyline plot: one line per series, time on x.
fn plot(title: &str, unit: &str, series: &[Series<'_>]) -> String {
    let (w, h, left, bottom) = (720.0, 260.0, 60.0, 30.0);
    let max_x = series.iter().flat_map(|s| s.2.iter().map(|p| p.0)).fold(1.0, f64::max);
    let max_y = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" viewBox="0 0 {w} {}"><title>{title}</title><text x="{left}" y="14" font-size="13">{title}</text>"#,
        h + 20.0,
        h + 20.0
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{w}" y2="{}" stroke="#888"/><line x1="{left}" y1="20" x2="{left}" y2="{}" stroke="#888"/>"##,
        h - bottom + 20.0,
        h - bottom + 20.0,
        h - bottom + 20.0
    );
    let _ = write!(
        svg,
        r#"<text x="2" y="28" font-size="11">{max_y:.1} {unit}</text><text x="{}" y="{}" font-size="11">{max_x:.0} s</text>"#,
        w - 40.0,
        h + 16.0
    );
    for (i, (name, color, points)) in series.iter().enumerate() {
        let coords: Vec<String> = points
            .iter()
            .map(|(x, y)| {
                let px = left + (w - left - 10.0) * x / max_x;
                let py = 20.0 + (h - bottom) * (1.0 - y / max_y);
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/><text x="{}" y="14" font-size="11" fill="{color}">{name}</text>"#,
            coords.join(" "),
            left + 260.0 + 110.0 * i as f64
        );
    }
    svg.push_str("</svg>");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One self-contained HTML page: the summary, and plots of throughput and
/// latency percentiles over time. No scripts, no network assets.
pub fn html(r: &LoadReport) -> String {
    let mut summary = Vec::new();
    let _ = write_summary(r, &mut summary);
    let per_second =
        |f: &dyn Fn(&Tick) -> f64| -> Vec<(f64, f64)> { r.timeline.iter().map(|t| (t.t as f64, f(t))).collect() };
    let mut events_per_flow = if r.flows.started == 0 {
        1.0
    } else {
        r.events.sent as f64 / r.flows.started as f64
    };
    if !events_per_flow.is_finite() {
        events_per_flow = 1.0;
    }
    let mut throughput = vec![
        ("events sent/s", "#1f77b4", per_second(&|t| t.events_sent as f64)),
        (
            "events acked/s",
            "#2ca02c",
            per_second(&|t| t.events_acknowledged as f64),
        ),
    ];
    if r.timeline.iter().any(|t| t.target_flow_rate.is_some()) {
        throughput.push((
            "target events/s",
            "#999999",
            per_second(&|t| t.target_flow_rate.unwrap_or(0.0) * events_per_flow),
        ));
    }
    let latency = [
        ("ack p50", "#1f77b4", per_second(&|t| t.ack_p50_ms)),
        ("ack p99", "#d62728", per_second(&|t| t.ack_p99_ms)),
    ];
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>flowharness load: {flow}</title>\
<style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em}}</style></head><body>\
<h1>flowharness load: {flow}</h1><pre>{summary}</pre>{t}{l}</body></html>\n",
        flow = escape(&r.flow),
        summary = escape(&String::from_utf8_lossy(&summary)),
        t = plot("Throughput", "/s", &throughput),
        l = plot("Acknowledgement latency", "ms", &latency),
    )
}

//! A load run's report: the JSON file, the terminal summary and the merge
//! of shards (the HTML page is `html`).

use crate::num::Cast as _;
use std::io::Write;
use std::path::Path;

use super::metrics::{Latency, merge_named, merge_timelines};
use super::observe::ObservedSummary;
use super::{EventCounts, FlowCounts, LoadReport, REPORT_FORMAT, Slo};
use crate::error::{Error, Result};

/// Writes the JSON report.
pub fn save(report: &LoadReport, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(|e| Error::internal_from("serializing JSON", e))?;
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
    let json = crate::error::parse_json(include_str!("../../../../schemas/load-report.schema.json"))?;
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
            error_rate: if sent == 0 {
                0.0
            } else {
                failed.to_f64() / sent.to_f64()
            },
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
        out.behind_at_producer_end += o.behind_at_producer_end;
    }
    // A merged run caught up when its slowest shard did.
    out.caught_up_seconds = all
        .iter()
        .map(|o| o.caught_up_seconds)
        .try_fold(0.0, |acc: f64, s| s.map(|s| acc.max(s)));
    let mut by_second: std::collections::BTreeMap<u64, super::observe::ObservedTick> = Default::default();
    for tick in all.iter().flat_map(|o| &o.timeline) {
        let m = by_second.entry(tick.t).or_insert_with(|| super::observe::ObservedTick {
            t: tick.t,
            ..Default::default()
        });
        m.messages += tick.messages;
        m.end_to_end_p99_ms = m.end_to_end_p99_ms.max(tick.end_to_end_p99_ms);
    }
    out.timeline = by_second.into_values().collect();
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
        if o.fell_behind() {
            match o.caught_up_seconds {
                Some(s) => writeln!(
                    out,
                    "  the observer fell behind: {} messages unread when the producer finished, all read {s:.1}s later",
                    o.behind_at_producer_end
                )?,
                None => writeln!(
                    out,
                    "  the observer fell behind: {} messages unread when the producer finished, and it never caught up",
                    o.behind_at_producer_end
                )?,
            }
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

pub use super::html::html;

//! The HTML load report: what it shows (a golden file of a fixed report,
//! `UPDATE_GOLDEN=1` rewrites it), that merged shards get the same page,
//! and that it renders in a real browser (headless Chromium) with its
//! script run and no console errors.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::repo_path;
use flowharness::load::metrics::{Latency, Tick, histogram, record};
use flowharness::load::observe::{ObservedSummary, ObservedTick};
use flowharness::load::{EventCounts, FlowCounts, GroupLag, LagTick, LoadReport, Shard, Slo, report};

fn latency(scale: f64, n: u64) -> Latency {
    let mut h = histogram();
    for i in 0..n {
        // A body around `scale` ms and a tail ten times as long.
        let us = (scale * 1000.0 * (1.0 + (i % 97) as f64 / 97.0)) as u64;
        record(&mut h, if i % 100 == 0 { us * 10 } else { us });
    }
    Latency::of(&h)
}

/// A minute of a run at 2000 events/s ramping from 500, with one slow
/// second, an observer that found two violations and a group that drained.
fn sample_report(shard: u64, shards: u64) -> LoadReport {
    let timeline: Vec<Tick> = (1..=60u64)
        .map(|t| {
            let sent = if t < 10 { 400 + 160 * t } else { 2000 } / shards;
            Tick {
                t,
                target_flow_rate: Some(if t < 10 { 100.0 + 40.0 * t as f64 } else { 500.0 } / shards as f64),
                flows_started: sent / 4,
                events_sent: sent,
                events_acknowledged: if t == 30 { sent / 2 } else { sent },
                errors: 0,
                flows_in_flight: 40,
                ack_p50_ms: 1.5 + (t % 7) as f64 * 0.1,
                ack_p90_ms: 3.0 + (t % 5) as f64 * 0.2,
                ack_p99_ms: if t == 30 { 48.0 } else { 6.0 + (t % 3) as f64 },
                ack_max_ms: if t == 30 { 95.0 } else { 12.0 },
            }
        })
        .collect();
    let sent: u64 = timeline.iter().map(|t| t.events_sent).sum();
    let mut by_path = BTreeMap::new();
    by_path.insert("happy".to_string(), sent / 8);
    by_path.insert("cancel".to_string(), sent / 16);
    by_path.insert("rollback".to_string(), sent / 16);
    let mut end_to_end = BTreeMap::new();
    for (i, state) in ["Scheduled", "Validated", "Completed", "Cancelled"].iter().enumerate() {
        end_to_end.insert(state.to_string(), latency(4.0 + i as f64 * 2.0, 2000));
    }
    let mut by_rule = BTreeMap::new();
    by_rule.insert("transition".to_string(), 2);
    let observed = ObservedSummary {
        messages: sent,
        lost: 0,
        violations: 2,
        warnings: 0,
        by_rule,
        findings: vec![
            "transition: key acct-17 (partition 1, offset 88): Completed after Scheduled is not allowed".into(),
        ],
        complete_by_path: BTreeMap::new(),
        end_to_end,
        timed_out: false,
        timeline: timeline
            .iter()
            .map(|t| ObservedTick {
                t: t.t,
                messages: t.events_sent,
                end_to_end_p99_ms: t.ack_p99_ms + 3.0,
            })
            .collect(),
        behind_at_producer_end: 0,
        caught_up_seconds: Some(0.05),
        keys_with_violations: Vec::new(),
    };
    let mut r = LoadReport {
        format: "flowharness-load-report/1".into(),
        flow: "account-migration".into(),
        topic: "account-migration-events".into(),
        shards: vec![Shard {
            index: shard,
            count: shards,
        }],
        seed: 42,
        rate: "100/s..500/s over 10s".into(),
        time_scale: 0.0,
        interrupted: false,
        seconds: 60.0,
        flows: FlowCounts {
            started: sent / 4,
            finished_sending: sent / 4 - 40,
            in_flight_at_end: 40,
            peak_in_flight: 64,
            by_path,
        },
        events: EventCounts {
            sent,
            acknowledged: sent,
            failed: 0,
            error_rate: 0.0,
        },
        failures: Vec::new(),
        flows_per_second: sent as f64 / 240.0,
        events_per_second: sent as f64 / 60.0,
        ack_latency: latency(1.5, 5000),
        observed: Some(observed),
        consumer_group: Some(GroupLag {
            group: "migration-status".into(),
            drained: true,
            remaining: 0,
            seconds_to_drain: Some(1.4),
            timeline: (0..62)
                .map(|t| LagTick {
                    t: f64::from(t),
                    lag: if t == 31 { 900 } else { 20 + i64::from(t % 4) * 5 },
                })
                .collect(),
        }),
        timeline,
        slo: Slo::default(),
    };
    r.apply_slo(Some(2.0), None);
    r
}

fn golden(name: &str, actual: &str) {
    let path = repo_path(&format!("tests/golden/{name}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

#[test]
fn the_page_shows_every_section_with_axes_and_units() {
    let r = sample_report(0, 1);
    let html = report::html(&r);
    for wanted in [
        "Throughput",
        "Acknowledgement latency",
        "Latency by percentile (HDR)",
        "End-to-end latency per event type",
        "End-to-end p99 per event type",
        "Violations by rule",
        "Consumer group lag",
        "Read back against sent",
        ">seconds since start</text>",
        ">events/s</text>",
        ">ms</text>",
        ">99.9%</text>",
        "<th>seed</th><td>42</td>",
        "SLO breached: ack p99",
        "class=\"verdict fail\"",
    ] {
        assert!(html.contains(wanted), "the page lacks {wanted:?}");
    }
    // Four lines on the latency chart: p50, p90, p99, max.
    let ack = html
        .split("id=\"ack-latency\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert_eq!(ack.matches("<polyline").count(), 4);
    // One curve for acknowledgements, one per event type.
    let dist = html
        .split("id=\"distribution\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert_eq!(dist.matches("<polyline").count(), 5);
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<script src"));
    golden("load-report.html", &html);
}

#[test]
fn merged_shards_get_the_same_page() {
    let merged = report::merge(&[sample_report(0, 2), sample_report(1, 2)]).unwrap();
    let html = report::html(&merged);
    assert!(html.contains("<th>shards</th><td>0/2, 1/2</td>"), "{html}");
    let sections = |h: &str| -> Vec<String> {
        h.split("<h2>")
            .skip(1)
            .map(|s| s.split("</h2>").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(sections(&html), sections(&report::html(&sample_report(0, 1))));
    // The merged lag and observer timelines are there, not dropped.
    let merged_observed = merged.observed.as_ref().unwrap();
    assert_eq!(merged_observed.timeline.len(), 60);
    assert_eq!(merged_observed.timeline[20].messages, 2000);
    assert!(!merged.consumer_group.as_ref().unwrap().timeline.is_empty());
}

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|b| b.to_string())
}

fn run_chromium(browser: &str, page: &Path, extra: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,3200",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn the_page_renders_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else {
        // CI installs Chromium (.ci/run); anywhere else, say why this did not run.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium for the browser test: apt-get install chromium"
        );
        eprintln!("SKIPPED: no chromium on this machine (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("load.html");
    std::fs::write(&page, report::html(&sample_report(0, 1))).unwrap();

    let dom = run_chromium(&browser, &page, &["--dump-dom"]);
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "{stderr}");
    assert!(
        stdout.contains("data-ready=\"1\""),
        "the page's script did not run to its end:\n{stderr}"
    );
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    let shot = dir.path().join("load.png");
    let out = run_chromium(&browser, &page, &[&format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[1..4], b"PNG");
    // A blank page compresses to a few kilobytes; charts and tables do not.
    assert!(
        png.len() > 60_000,
        "the screenshot is nearly empty: {} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("FLOWHARNESS_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

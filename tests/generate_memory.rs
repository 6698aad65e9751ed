//! Generating streams: memory follows the flows open at once, not the
//! flows made. Alone in its test binary, so the process's peak memory is
//! this test's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "a test: an unwrap that fails is a failed test, with its message; casts size test data"
)]

mod common;

use flowharness::fixture_writer::FixtureWriter;
use flowharness::flow::generator::FlowGenerator;
use flowharness::flow::shipped;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Generates `flows` flows into a fixture writer that throws the text away,
/// returning the events made and how much the peak memory grew.
fn generate(flows: usize) -> (usize, f64) {
    let spec = shipped::resolve("account-migration").unwrap();
    let generator = FlowGenerator::new(&spec, common::flow_options(&spec, flows, "")).unwrap();
    let schema = spec.schema().json().clone();
    let mut writer = FixtureWriter::new(std::io::sink());
    let before = peak_rss_mb();
    generator
        .generate_into(7, &mut |m| {
            writer
                .push(spec.topic(), &serde_json::Value::String(m.key), &schema, m.value)
                .map_err(|e| flowharness::error::Error::Usage(e.to_string()))
        })
        .unwrap();
    let (_, _, events) = writer.finish().unwrap();
    (events, peak_rss_mb() - before)
}

#[test]
fn generating_forty_thousand_flows_takes_no_more_memory_than_ten_thousand() {
    if peak_rss_mb() == 0.0 {
        println!("skipped: no /proc/self/status to read memory from");
        return;
    }
    let (small_events, small) = generate(10_000);
    let (events, grew) = generate(40_000);
    assert!(events > 3 * small_events, "{events} events after {small_events}");
    // Held whole, 40,000 flows (about 270,000 events as JSON trees) take
    // several hundred megabytes; streamed, the second run reuses the
    // first's peak but for the keys seen (8 bytes each).
    assert!(
        grew < 40.0,
        "40,000 flows raised the peak by {grew:.0} MB beyond 10,000 flows' {small:.0} MB"
    );
}

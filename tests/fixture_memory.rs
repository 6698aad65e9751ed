//! A large fixture is read entry by entry: loading one never needs memory
//! on the order of the file (let alone twice that). Alone in its test
//! binary, so the process's peak memory is this test's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "a test: an unwrap that fails is a failed test, with its message; casts size test data"
)]

use std::io::Write as _;

use flowharness::fixture::Fixture;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[test]
fn a_large_fixture_loads_in_memory_well_below_its_size() {
    let seed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/complex.json")).unwrap(),
    )
    .unwrap();
    let entry = serde_json::to_string(&seed["0"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.json");
    // Written a piece at a time, so the test itself never holds the file.
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let copies = 8000;
    write!(out, "{{").unwrap();
    for i in 0..copies {
        write!(out, "{}\"{i}\": {entry}", if i == 0 { "" } else { ", " }).unwrap();
    }
    write!(out, "}}").unwrap();
    out.flush().unwrap();
    drop(out);
    let size_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    assert!(size_mb > 50.0, "{size_mb} MB");
    if peak_rss_mb() == 0.0 {
        println!("skipped: no /proc/self/status to read memory from");
        return;
    }
    let before = peak_rss_mb();
    let fixture = Fixture::load(&path).unwrap();
    let grew = peak_rss_mb() - before;
    assert_eq!(fixture.counts().entries, copies);
    // Held twice, a parsed JSON tree of the file would be several times
    // its size; entry by entry, with one shared schema, it is a fraction.
    assert!(
        grew < size_mb / 2.0,
        "loading {size_mb:.0} MB took {grew:.0} MB more memory"
    );
}

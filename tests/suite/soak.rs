//! A soak of the embedded broker under retention: a little over a minute
//! of `load --observe` against `flowharness up --retention 8MiB,1h`, with
//! the broker process's RSS sampled throughout. Under retention it levels
//! off once the log is full; without it (`--retention none`) the same run
//! grows by tens of megabytes in the second half and this test fails.
//! Nothing here asserts speed: the rate is one a debug build sustains.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

const BIN: &str = env!("CARGO_BIN_EXE_flowharness");
const MIB: u64 = 1 << 20;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn the_embedded_broker_stays_flat_under_retention_through_a_minute_of_load() {
    let retention = std::env::var("FLOWHARNESS_SOAK_RETENTION").unwrap_or_else(|_| "8MiB,1h".into());
    let mut up = Killed(
        Command::new(BIN)
            .args(["up", "--retention", &retention, "--topic", "soak-events:6"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let pid = up.0.id();
    let mut lines = BufReader::new(up.0.stdout.take().unwrap()).lines();
    let (mut broker, mut registry) = (String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(b) = line.strip_prefix("export KAFKA_BOOTSTRAP_SERVERS=") {
            broker = b.to_string();
        }
        if let Some(r) = line.strip_prefix("export SCHEMA_REGISTRY_URL=") {
            registry = r.to_string();
            break;
        }
    }
    assert!(!broker.is_empty() && !registry.is_empty(), "`up` printed no addresses");

    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("soak.json");
    let mut load = Command::new(BIN)
        .args([
            "load",
            "--flow",
            "account-migration",
            "--topic",
            "soak-events",
            "--rate",
            "500/s",
            "--duration",
            "70s",
            "--observe",
            "--report",
            report.to_str().unwrap(),
            "--bootstrap-servers",
            &broker,
            "--registry-url",
            &registry,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let start = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    while load.try_wait().unwrap().is_none() {
        if let Some(rss) = rss_bytes(pid) {
            samples.push((start.elapsed().as_secs_f64(), rss));
        }
        std::thread::sleep(Duration::from_secs(2));
        assert!(start.elapsed() < Duration::from_secs(240), "the load run did not end");
    }
    let out = load.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    let shown: Vec<String> = samples
        .iter()
        .map(|(t, b)| format!("{t:.0}s {} MiB", b / MIB))
        .collect();
    assert!(out.status.success(), "load failed:\n{summary}\nbroker RSS: {shown:?}");

    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let sent = r["events"]["sent"].as_u64().unwrap();
    assert_eq!(r["observed"]["lost"], 0, "{summary}");
    assert!(sent > 100_000, "too little load to tell: {sent} events\n{summary}");

    // Retention dropped the oldest records: some partition starts past 0.
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker)
        .create()
        .unwrap();
    let starts: Vec<i64> = (0..6)
        .map(|p| {
            consumer
                .fetch_watermarks("soak-events", p, Duration::from_secs(10))
                .unwrap()
                .0
        })
        .collect();
    eprintln!("broker RSS: {shown:?}; {sent} events; log starts {starts:?}");
    if std::env::var_os("FLOWHARNESS_SOAK_RETENTION").is_none() {
        assert!(
            starts.iter().all(|s| *s > 0),
            "nothing was dropped: log starts {starts:?}"
        );
    }

    // Flat: the last third grows no more than a little over the middle third.
    let window = |lo: f64, hi: f64| {
        samples
            .iter()
            .filter(|(t, _)| *t >= lo && *t < hi)
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0)
    };
    let end = samples.last().map_or(0.0, |s| s.0);
    let (middle, last) = (window(end / 3.0, 2.0 * end / 3.0), window(2.0 * end / 3.0, end + 1.0));
    assert!(
        last <= middle + 8 * MIB,
        "the broker's RSS kept growing: {} MiB in the middle third, {} MiB in the last; samples {shown:?}",
        middle / MIB,
        last / MIB
    );
}

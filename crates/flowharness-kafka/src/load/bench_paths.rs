//! The contract paths in `flowharness bench`: generate to a file, the
//! checker alone, verify from a file and produce, each in events per
//! second against its target and against the load engine's stamping rate
//! measured in the same run; and the peak memory of `generate` and
//! `verify --file` at a million flows, each run as a process of its own
//! (the benchmark's own process holds a broker and a template pool, so
//! its memory says nothing of theirs).

use crate::num::Cast as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::flow::FlowSpec;
use crate::flow::checker::{CheckOptions, Checker, Observed};
use crate::flow::generator::{FlowGenerator, FlowOptions};
use crate::flow::{fixture_io, generate_out};
use crate::kafka::Environment;
use crate::kafka::producer::ProducerOptions;
use crate::registry::SubjectStrategy;
use crate::verify::{ProduceRun, flow_message, produce_stream};

/// What a target is measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// At least this many events per second.
    Rate(f64),
    /// At least this fraction of the load engine's events per second
    /// against the same broker.
    OfLoad(f64),
}

/// One path's throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: &'static str,
    pub events: u64,
    pub per_second: f64,
    pub target: Target,
}

impl Figure {
    /// The events per second the target asks for, given load's rate.
    pub fn wanted(&self, load_per_second: f64) -> f64 {
        match self.target {
            Target::Rate(r) => r,
            Target::OfLoad(f) => f * load_per_second,
        }
    }
}

/// A command's peak memory, run as a process of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    pub command: String,
    pub seconds: f64,
    /// The time it should take, where the issue names one (`generate`:
    /// 1,000,000 flows in 20 s, scaled to the flows asked for).
    pub target_seconds: Option<f64>,
    pub peak_mb: f64,
    pub target_mb: f64,
    /// What the command printed last (its summary), for the record.
    pub said: String,
}

/// The generator's options for `flows` flows.
fn with_flows(options: &FlowOptions, flows: usize) -> FlowOptions {
    FlowOptions {
        flows,
        ..options.clone()
    }
}

/// `generate` of `flows` flows into a fixture-lines file in `dir`; the
/// file is kept for [`verify_rate`].
pub fn generate_rate(
    spec: &FlowSpec,
    options: &FlowOptions,
    flows: usize,
    seed: u64,
    dir: &Path,
) -> Result<(Figure, PathBuf)> {
    let generator = FlowGenerator::new(spec, with_flows(options, flows))?;
    let path = dir.join("bench-generate.jsonl");
    let began = Instant::now();
    let made = generate_out::generate_to(spec, &generator, seed, Some(&path), &mut std::io::sink())?;
    let seconds = began.elapsed().as_secs_f64();
    Ok((
        Figure {
            name: "generate to a file (.jsonl)",
            events: made.events,
            per_second: made.events.to_f64() / seconds.max(1e-9),
            target: Target::Rate(500_000.0),
        },
        path,
    ))
}

/// The contract-path figures measure clean runs: generated flows that broke
/// their own flow are an error, not a figure.
fn clean(spec: &FlowSpec, errors: u64) -> Result<()> {
    if errors > 0 {
        return Err(Error::Usage(format!(
            "bench: generated flows broke the flow {} {errors} times; the benchmark measures clean runs",
            spec.name()
        )));
    }
    Ok(())
}

/// `verify --file` over the file [`generate_rate`] wrote.
pub fn verify_rate(spec: &FlowSpec, path: &Path) -> Result<Figure> {
    let began = Instant::now();
    let report = fixture_io::check_file(spec, path, CheckOptions::default())?;
    let seconds = began.elapsed().as_secs_f64();
    clean(spec, report.errors)?;
    Ok(Figure {
        name: "verify --file (.jsonl)",
        events: report.messages,
        per_second: report.messages.to_f64() / seconds.max(1e-9),
        target: Target::Rate(300_000.0),
    })
}

/// The partition a key lands on, by a stable hash (as `as_observed`).
fn partition_of(key: &str, partitions: u32) -> i32 {
    let hash = key
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    i32::try_from(hash % partitions.max(1)).unwrap_or(0)
}

/// The checker alone over at least `events` interleaved events: flows are
/// generated in batches of 1,024 events, and only checking them is timed.
pub fn checker_rate(spec: &FlowSpec, options: &FlowOptions, events: u64, seed: u64) -> Result<Figure> {
    // Enough flows for `events`, from the mean of a small sample.
    let sample = FlowGenerator::new(spec, with_flows(options, 200))?.generate(seed)?;
    let per_flow = (sample.len().to_f64() / 200.0).max(1.0);
    let flows = ((events.to_f64() / per_flow) * 1.05).ceil().sat_usize();
    let generator = FlowGenerator::new(spec, with_flows(options, flows))?;
    let mut checker = Checker::new(spec, CheckOptions::default());
    let mut batch: Vec<Observed> = Vec::with_capacity(1024);
    let mut offsets = [0_i64; 6];
    let mut checking = Duration::ZERO;
    let mut checked = 0_u64;
    let mut run = |batch: &mut Vec<Observed>, checker: &mut Checker<'_>| {
        let began = Instant::now();
        for o in batch.iter() {
            checker.observe(o);
        }
        checking += began.elapsed();
        checked += batch.len().sat_u64();
        batch.clear();
    };
    generator.generate_into(seed, &mut |k| {
        let partition = partition_of(&k.key, 6);
        let slot = usize::try_from(partition).unwrap_or(0);
        batch.push(Observed {
            topic: k.topic.clone(),
            record: None,
            partition,
            offset: offsets[slot],
            headers: k.headers,
            key: Some(k.key),
            value: Ok(k.value),
        });
        offsets[slot] += 1;
        if batch.len() == 1024 {
            run(&mut batch, &mut checker);
        }
        Ok(())
    })?;
    run(&mut batch, &mut checker);
    let report = checker.finish();
    clean(spec, report.errors)?;
    Ok(Figure {
        name: "checker alone, interleaved",
        events: checked,
        per_second: checked.to_f64() / checking.as_secs_f64().max(1e-9),
        target: Target::Rate(1_000_000.0),
    })
}

/// `produce` of `flows` flows to `topic`: generated, encoded and sent as
/// they are made, timed from the first send to the last acknowledgement
/// (as load's B is); the observing and checking after it is not timed,
/// but it must find every message and no violation.
pub fn produce_rate(
    env: &Environment,
    spec: &FlowSpec,
    options: &FlowOptions,
    flows: usize,
    seed: u64,
    topic: &str,
    partitions: i32,
) -> Result<Figure> {
    let generator = FlowGenerator::new(spec, with_flows(options, flows))?;
    let others = spec
        .channels()
        .iter()
        .skip(1)
        .map(|c| (format!("{topic}-{}", c.topic), c.schema.clone()))
        .collect();
    let run = ProduceRun {
        topic: topic.to_string(),
        partitions,
        schema: spec.channels()[0].schema.clone(),
        others,
        messages: Vec::new(),
        seed: Some(seed),
        strategy: SubjectStrategy::Topic,
        producer: ProducerOptions::default(),
        observe_timeout: Duration::from_secs(120),
        keep_observed: false,
    };
    let report = produce_stream(env, &run, Some(spec), CheckOptions::default(), &mut |send| {
        generator
            .generate_into(seed, &mut |k| send(flow_message(spec, k)))
            .map(|_| ())
    })?;
    if report.failed() {
        return Err(Error::Usage(format!(
            "bench: produce lost {}, doubled {}, failed {} and broke {} rules; the benchmark measures clean runs",
            report.lost, report.duplicated, report.delivery.failed, report.check.errors
        )));
    }
    Ok(Figure {
        name: "produce (generate, encode, send)",
        events: report.delivery.acknowledged,
        per_second: report.delivery.acknowledged.to_f64() / report.send_seconds.max(1e-9),
        target: Target::OfLoad(0.8),
    })
}

/// The peak resident memory of a process, read from its
/// `/proc/PID/status` (`VmHWM`, a high-water mark) until it exits.
fn peak_of(mut child: std::process::Child) -> Result<(std::process::Output, f64)> {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0_u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Error::system("bench: waiting for a child", e)),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Error::system("bench: a child\'s output", e))?;
    Ok((output, peak_kb.to_f64() / 1024.0))
}

/// Runs `exe args` and measures its time and peak memory; it must exit 0.
fn measure(exe: &Path, args: &[String], target_mb: f64, target_seconds: Option<f64>) -> Result<Memory> {
    let command = format!("flowharness {}", args.join(" "));
    let began = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::system(format!("bench: cannot run {}", exe.display()), e))?;
    let (output, peak_mb) = peak_of(child)?;
    let seconds = began.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(Error::Usage(format!(
            "bench: `{command}` failed ({}): {text}",
            output.status
        )));
    }
    let said = text
        .lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with("seed"))
        .unwrap_or_default()
        .to_string();
    Ok(Memory {
        command,
        seconds,
        target_seconds,
        peak_mb,
        target_mb,
        said,
    })
}

/// `generate --flows N --out DIR/…jsonl` and then `verify --file` on the
/// result, each as a process of `exe` (this binary), with their times and
/// peak memory.
pub fn memory(exe: &Path, flow: &str, flows: u64, seed: u64, dir: &Path) -> Result<Vec<Memory>> {
    let file = dir.join("bench-memory.jsonl");
    let file_text = file.display().to_string();
    let generate: Vec<String> = [
        "generate",
        "--flow",
        flow,
        "--flows",
        &flows.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        &file_text,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let verify: Vec<String> = ["verify", "--flow", flow, "--file", &file_text]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // 1,000,000 flows (about 6.8M events) in 20 s: 50,000 flows a second.
    let made = measure(exe, &generate, 300.0, Some(flows.to_f64() / 50_000.0))?;
    let checked = measure(exe, &verify, 200.0, None)?;
    let _ = std::fs::remove_file(&file);
    Ok(vec![made, checked])
}

//! `flowharness load`, `flowharness report merge` and `flowharness bench`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::commands::{FINDINGS, OK, stdio};
use super::interrupt::INTERRUPTED;
use super::kafka::{connect, duration};
use super::{ConnectArgs, GenerateOptions};
use crate::error::{Error, Result};
use crate::flow::generator::Mix;
use crate::kafka::producer::ProducerOptions;
use crate::load::bench_paths as paths;
use crate::load::engine::EngineOptions;
use crate::load::metrics::Tick;
use crate::load::rate::Schedule;
use crate::load::{LoadOptions, Shard, report};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// A shipped flow or a spec file.
    #[arg(long)]
    pub flow: String,
    /// Flow starts per second: 20000/s, a ramp 1000/s..50000/s over the
    /// duration, stages 1000/s:10s,5000/s:20s, or max.
    #[arg(long, default_value = "100/s")]
    pub rate: String,
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Path weights, e.g. happy=80,cancel=15,rollback=5 (default: all alike).
    #[arg(long)]
    pub mix: Option<String>,
    /// The account keyspace flows are spread over.
    #[arg(long, default_value_t = 100_000)]
    pub accounts: u64,
    /// Flow time per wall time: 86400 plays a day in a second; 0 sends a
    /// flow's events back to back.
    #[arg(long, default_value_t = 86_400.0)]
    pub time_scale: f64,
    /// Flows in flight at most (bounds memory; starts wait beyond it).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_in_flight: u64,
    /// Stop after this many flows.
    #[arg(long)]
    pub max_flows: Option<u64>,
    /// This instance's share of the keyspace, i/n (instances with the same
    /// seed and different i produce disjoint flows).
    #[arg(long, default_value = "0/1")]
    pub shard: String,
    /// Topic (default: the flow's).
    #[arg(long)]
    pub topic: Option<String>,
    /// Partitions of the topic created (default: as the contract says,
    /// else 6).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Read the topic alongside: end-to-end latency and the flow checker.
    #[arg(long)]
    pub observe: bool,
    /// With --observe: save the flows with violations (the first 100) here
    /// as a fixture, and a feature file that replays them and fails the
    /// same way. A failure no flow shows (loss, an SLO) is said, not saved.
    #[arg(long, requires = "observe")]
    pub save_failures: Option<PathBuf>,
    /// Track this consumer group's lag until it drains.
    #[arg(long)]
    pub consumer_group: Option<String>,
    #[arg(long, default_value = "60s")]
    pub drain_timeout: String,
    /// Write the JSON report here (schemas/load-report.schema.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write an HTML page with plots here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Exit 1 when the ack p99 is above this, e.g. 50ms.
    #[arg(long)]
    pub max_p99: Option<String>,
    /// Exit 1 when the error rate is above this, e.g. 0.1%.
    #[arg(long)]
    pub max_error_rate: Option<String>,
    #[arg(long, default_value = "1")]
    pub acks: String,
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u32,
    #[arg(long, default_value = "none")]
    pub compression: String,
    #[command(flatten)]
    pub generate: GenerateOptions,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "account-migration")]
    pub flow: String,
    /// Messages for the raw producer (the harness sends about as many).
    #[arg(long, default_value_t = 300_000)]
    pub events: u64,
    /// Accounts in flight for the memory figure.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: u64,
    /// Flows for the generate, verify and produce figures.
    #[arg(long, default_value_t = 100_000)]
    pub flows: usize,
    /// Events for the checker's figure.
    #[arg(long, default_value_t = 1_000_000)]
    pub check_events: u64,
    /// Flows that `generate` and `verify --file` take for the memory
    /// figures, each run as a process of its own (0: not measured).
    #[arg(long, default_value_t = 1_000_000)]
    pub memory_flows: u64,
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    #[command(flatten)]
    pub generate: GenerateOptions,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of several shards into one.
    Merge {
        /// Shard reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Where the merged report goes.
        #[arg(long, short)]
        output: PathBuf,
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

fn percent(flag: &str, text: &str) -> Result<f64> {
    let bad = || {
        Error::Usage(format!(
            "{flag}: expected a share such as 0.1% or 0.001, found {text:?}"
        ))
    };
    let t = text.trim();
    let v: f64 = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => t.parse().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&v) {
        return Err(bad());
    }
    Ok(v)
}

/// A live display when stderr is the terminal the binary runs in; else a
/// log line every 5 s on the error writer the command was given.
fn progress<'a>(err: &'a mut dyn Write, live: bool) -> Box<dyn FnMut(&Tick) + 'a> {
    let line = |t: &Tick| {
        format!(
            "{:>4}s flows {:>7}/s (target {}) events {:>8}/s acked {:>8}/s in flight {:>8} ack p50 {:.1} ms p99 {:.1} ms errors {}",
            t.t,
            t.flows_started,
            t.target_flow_rate.map_or_else(|| "max".into(), |r| format!("{r:.0}")),
            t.events_sent,
            t.events_acknowledged,
            t.flows_in_flight,
            t.ack_p50_ms,
            t.ack_p99_ms,
            t.errors
        )
    };
    if live {
        let bar = indicatif::ProgressBar::new_spinner();
        Box::new(move |t| bar.set_message(line(t)))
    } else {
        Box::new(move |t| {
            if t.t % 5 == 0 {
                // A lost progress line is not worth failing the run for.
                let _ = writeln!(err, "{}", line(t));
            }
        })
    }
}

pub(super) fn load(args: &LoadArgs, out: &mut dyn Write, err: &mut dyn Write, live: bool) -> Result<i32> {
    let spec = Arc::new(crate::contract::resolve_flow(&args.flow)?);
    let run_for = duration("--duration", &args.duration)?;
    let schedule = Schedule::parse(&args.rate, run_for.as_secs_f64())?;
    let mix = match &args.mix {
        Some(m) => Mix::parse(&spec, m)?,
        None => Mix::uniform(&spec),
    };
    let shard = Shard::parse(&args.shard)?;
    if args.accounts == 0 {
        return Err(Error::Usage("--accounts: must be at least 1".into()));
    }
    if !(args.time_scale.is_finite() && args.time_scale >= 0.0) {
        return Err(Error::Usage("--time-scale: must be 0 or more".into()));
    }
    let max_p99 = args
        .max_p99
        .as_deref()
        .map(|t| duration("--max-p99", t).map(|d| d.as_secs_f64() * 1000.0))
        .transpose()?;
    let max_error_rate = args
        .max_error_rate
        .as_deref()
        .map(|t| percent("--max-error-rate", t))
        .transpose()?;
    let (hints, seed) = super::sample::setup(&args.generate, err)?;
    let topic = args.topic.clone().unwrap_or_else(|| spec.topic().to_string());
    let partitions = args.partitions.or_else(|| spec.partitions()).unwrap_or(6);
    let options = LoadOptions {
        flow: spec,
        topic,
        partitions,
        rate: args.rate.clone(),
        engine: EngineOptions {
            schedule,
            duration: run_for,
            max_flows: args.max_flows,
            accounts: args.accounts,
            shard: (shard.index, shard.count),
            seed,
            time_scale: args.time_scale,
            max_in_flight: args.max_in_flight.max(1),
            flush_timeout: Duration::from_secs(30),
        },
        mix,
        hints,
        pool_size: 512,
        observe: args.observe,
        consumer_group: args.consumer_group.clone(),
        drain_timeout: duration("--drain-timeout", &args.drain_timeout)?,
        producer: ProducerOptions {
            acks: args.acks.clone(),
            linger_ms: args.linger_ms,
            compression: args.compression.clone(),
            ..ProducerOptions::for_load(Duration::from_secs(30))
        },
    };
    let env = connect(&args.connect, err)?;
    let stop = Arc::new(AtomicBool::new(false));
    super::interrupt::stop_gracefully(stop.clone());
    // Where the run began, to read its flows again for a replay.
    let starts = match &args.save_failures {
        Some(_) => options
            .topics()
            .into_iter()
            .map(|t| {
                let at = crate::kafka::observer::end_offsets(&env.cluster, &t)
                    .ok()
                    .filter(|e| !e.is_empty());
                (t, at)
            })
            .collect::<Vec<_>>(),
        None => Vec::new(),
    };
    let mut tick = progress(err, live);
    let mut r = crate::load::run(&env, &options, &stop, &mut *tick)?;
    r.apply_slo(max_p99, max_error_rate);
    report::write_summary(&r, out).map_err(stdio)?;
    write_outputs(&r, args.report.as_ref(), args.html.as_ref())?;
    if let (Some(dir), Some(observed), true) = (&args.save_failures, &r.observed, r.failed()) {
        let reading: Vec<crate::kafka::observer::Reading<'_>> =
            starts.iter().map(|(t, at)| (t.as_str(), at.clone())).collect();
        super::flows::save_violations(
            dir,
            &args.flow,
            &options.flow,
            ("flowharness load", &r.topic),
            &observed.keys_with_violations,
            &mut |keys| crate::verify::read_keys(&env, &options.flow, &reading, keys, Duration::from_secs(30)),
            out,
        )?;
    }
    Ok(if r.interrupted {
        INTERRUPTED
    } else if r.failed() {
        FINDINGS
    } else {
        OK
    })
}

fn write_outputs(r: &crate::load::LoadReport, json: Option<&PathBuf>, html: Option<&PathBuf>) -> Result<()> {
    if let Some(path) = json {
        report::save(r, path)?;
    }
    if let Some(path) = html {
        std::fs::write(path, report::html(r)).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

pub(super) fn report_command(command: &ReportCommand, out: &mut dyn Write) -> Result<i32> {
    match command {
        ReportCommand::Merge { reports, output, html } => {
            let loaded: Vec<_> = reports.iter().map(|p| report::load(p)).collect::<Result<_>>()?;
            let merged = report::merge(&loaded)?;
            report::write_summary(&merged, out).map_err(stdio)?;
            write_outputs(&merged, Some(output), html.as_ref())?;
            Ok(if merged.failed() { FINDINGS } else { OK })
        }
    }
}

/// What a figure lacks of its target, when it falls short.
fn gap(value: f64, target: f64) -> String {
    if value >= target {
        String::new()
    } else {
        format!(" -- GAP: {:.0}% short", (1.0 - value / target.max(1e-9)) * 100.0)
    }
}

/// A temporary folder for the bench's files, removed when dropped.
fn tempdir() -> Result<TempDir> {
    let path = std::env::temp_dir().join(format!("flowharness-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
    Ok(TempDir(path))
}

#[derive(Debug)]
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn bench(args: &BenchArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec = Arc::new(crate::contract::resolve_flow(&args.flow)?);
    let (hints, seed) = super::sample::setup(&args.generate, err)?;
    let options = LoadOptions {
        topic: format!("{}-bench", spec.topic()),
        mix: Mix::uniform(&spec),
        flow: spec,
        partitions: args.partitions,
        rate: "max".into(),
        engine: EngineOptions {
            schedule: Schedule::Unlimited,
            duration: Duration::from_secs(600),
            max_flows: None,
            accounts: 100_000,
            shard: (0, 1),
            seed,
            time_scale: 0.0,
            max_in_flight: args.accounts.max(1),
            flush_timeout: Duration::from_secs(60),
        },
        hints,
        pool_size: 512,
        observe: false,
        consumer_group: None,
        drain_timeout: Duration::from_secs(1),
        producer: ProducerOptions::for_load(Duration::from_secs(60)),
    };
    let env = connect(&args.connect, err)?;
    let r = crate::load::bench::run(&env, &options, args.events, args.accounts)?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(stdio);
    w(
        out,
        format!(
            "A raw rdkafka, pre-encoded {:.0}-byte payloads: {:.0} events/s",
            r.harness_event_bytes, r.raw_events_per_second
        ),
    )?;
    w(
        out,
        format!(
            "B flowharness load, unlimited rate:       {:.0} events/s ({:.0}-byte values on average)",
            r.harness_events_per_second, r.harness_event_bytes
        ),
    )?;
    w(
        out,
        format!(
            "(medians of {} turns each, taken alternately)",
            crate::load::bench::ROUNDS
        ),
    )?;
    w(
        out,
        format!("B/A: {:.2} (target >= 0.9){}", r.ratio(), gap(r.ratio(), 0.9)),
    )?;
    let stamping = r.harness_alone_events_per_second;
    w(
        out,
        format!(
            "load stamping on one core, no broker: {stamping:.0} events/s (target >= 1000000){}",
            gap(stamping, 1_000_000.0)
        ),
    )?;
    w(
        out,
        format!(
            "RSS with {} accounts in flight: {:.0} MB ({:.0} MB before them; target <= 300 MB)",
            r.accounts_in_flight, r.rss_mb_in_flight, r.rss_mb_before
        ),
    )?;
    // The contract paths, against their targets and load's stamping.
    let flow_options = crate::flow::generator::FlowOptions {
        flows: args.flows,
        mix: options.mix.clone(),
        hints: options.hints.clone(),
        jitter: 0.5,
        time_scale: 1.0,
    };
    let spec = options.flow.clone();
    let dir = tempdir()?;
    let (generated, file) = paths::generate_rate(&spec, &flow_options, args.flows, seed, dir.path())?;
    let verified = paths::verify_rate(&spec, &file)?;
    let _ = std::fs::remove_file(&file);
    let checked = paths::checker_rate(&spec, &flow_options, args.check_events, seed)?;
    let produced = paths::produce_rate(
        &env,
        &spec,
        &flow_options,
        args.flows,
        seed,
        &format!("{}-bench-produce", spec.topic()),
        args.partitions,
    )?;
    w(
        out,
        "contract paths (events/s; ratio to load's stamping rate above):".to_string(),
    )?;
    for f in [&generated, &checked, &verified, &produced] {
        let wanted = f.wanted(r.harness_events_per_second);
        let target = match f.target {
            paths::Target::Rate(t) => format!(">= {t:.0}"),
            paths::Target::OfLoad(x) => format!(">= {x} x load's {:.0} = {wanted:.0}", r.harness_events_per_second),
        };
        w(
            out,
            format!(
                "  {:<34} {:>9.0} over {} events, {:.2} of stamping (target {target}){}",
                f.name,
                f.per_second,
                f.events,
                f.per_second / stamping.max(1e-9),
                gap(f.per_second, wanted)
            ),
        )?;
    }
    if args.memory_flows == 0 {
        w(out, "memory at scale: not measured (--memory-flows 0)".to_string())?;
    } else {
        let exe = std::env::current_exe().map_err(|e| Error::system("bench: this program\'s path", e))?;
        for m in paths::memory(&exe, &args.flow, args.memory_flows, seed, dir.path())? {
            let mut over = String::new();
            if let Some(t) = m.target_seconds.filter(|t| m.seconds > *t) {
                over.push_str(&format!(" -- GAP: {:.1} s over", m.seconds - t));
            }
            if m.peak_mb > m.target_mb {
                over.push_str(&format!(" -- GAP: {:.0} MB over", m.peak_mb - m.target_mb));
            }
            let time_target = m
                .target_seconds
                .map_or(String::new(), |t| format!(" (target <= {t:.1} s)"));
            w(
                out,
                format!(
                    "  `{}`: {:.1} s{time_target}, peak RSS {:.0} MB (target <= {:.0} MB){over}; it said: {}",
                    m.command, m.seconds, m.peak_mb, m.target_mb, m.said
                ),
            )?;
        }
    }
    Ok(OK)
}

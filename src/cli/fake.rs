//! `flowharness fake`: a fake upstream that answers requests with flows.

use crate::num::Cast as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::commands::{FINDINGS, OK, stdio};
use super::{ConnectArgs, GenerateOptions};
use crate::error::{Error, Result};
use crate::fake::{FakeOptions, Rules};

#[derive(Debug, clap::Args)]
pub struct FakeArgs {
    /// A shipped flow or a spec file: what the replies are.
    #[arg(long)]
    pub flow: String,
    /// The rules file (TOML): which requests to answer, and how.
    #[arg(long)]
    pub rules: PathBuf,
    /// The flow's (first) topic, where replies go; `{topic}` in the rules
    /// stands for it (default: the spec's topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// The fake's consumer group (default: the rules' `group`, else flowharness-fake).
    #[arg(long)]
    pub group: Option<String>,
    /// The flow's time is divided by this for delays: 1 is real time, 0
    /// all at once (default: the rules' `time_scale`, else 1).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// Stop after this many requests, once their replies are sent.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Stop after this long (30s, 5m); without it, run until Ctrl-C.
    #[arg(long)]
    pub duration: Option<String>,
    /// Partitions of the topics the fake creates.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Write the report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Measure: send this many requests of the first rule at full speed
    /// to the fake, in-process, and report requests answered per second
    /// and request-to-reply latency.
    #[arg(long)]
    pub bench: Option<u64>,
    /// With --bench: send the requests at this many per second instead of
    /// at full speed (`--bench 150000 --rate 5000` is 30 s at 5k/s).
    #[arg(long, requires = "bench")]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub generate: GenerateOptions,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub(super) fn run(args: &FakeArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec = crate::contract::resolve_flow(&args.flow)?;
    let topic = args.topic.clone().unwrap_or_else(|| spec.topic().to_string());
    let rules = Rules::load(&args.rules, &spec, &topic)?;
    let (hints, seed) = super::sample::setup(&args.generate, err)?;
    let duration = match &args.duration {
        Some(d) => {
            let ms =
                crate::generate::time::parse_duration_ms(d).map_err(|e| Error::Usage(format!("--duration: {e}")))?;
            Some(Duration::from_millis(ms.max(0).sat_u64()))
        }
        None => None,
    };
    let time_scale = args.time_scale.or(rules.time_scale).unwrap_or(1.0);
    if !(time_scale >= 0.0 && time_scale.is_finite()) {
        return Err(Error::Usage(format!(
            "--time-scale: expected a number ≥ 0, found {time_scale}"
        )));
    }
    let options = FakeOptions {
        group: args
            .group
            .clone()
            .or_else(|| rules.group.clone())
            .unwrap_or_else(|| "flowharness-fake".into()),
        seed: args.generate.seed.or(rules.seed).unwrap_or(seed),
        time_scale,
        hints,
        partitions: args.partitions.max(1),
        requests: args.requests,
        duration,
        live: None,
    };
    let env = super::kafka::connect(&args.connect, err)?;
    if let Some(n) = args.bench {
        let bench = crate::fake::bench::run(&env, &spec, &rules, &options, n, args.rate)?;
        write!(out, "{bench}").map_err(stdio)?;
        return Ok(if bench.exact() && !bench.report.failed() {
            OK
        } else {
            FINDINGS
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    super::interrupt::stop_gracefully(stop.clone());
    let mut topics: Vec<&str> = rules.rules.iter().map(|r| r.topic.as_str()).collect();
    topics.dedup();
    writeln!(
        err,
        "fake: answering {} on {}, replies on {} (group {}, seed {})",
        rules
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        topics.join(", "),
        rules.reply_topics.join(", "),
        options.group,
        options.seed
    )
    .map_err(stdio)?;
    let report = crate::fake::run(&env, &spec, &rules, &options, &stop, &mut |r| {
        let _ = writeln!(
            err,
            "{:.0}s: {} requests, {} replied, {} omitted, {} pending",
            r.seconds, r.requests, r.replied, r.omitted, r.pending
        );
    })?;
    write!(out, "{report}").map_err(stdio)?;
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Error::internal_from("serializing JSON", e))?;
        std::fs::write(path, json).map_err(|e| Error::io(path, e))?;
    }
    Ok(if report.failed() { FINDINGS } else { OK })
}

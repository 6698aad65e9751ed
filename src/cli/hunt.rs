//! `flowharness hunt`: random flow sets against a live consumer, the
//! smallest failing case shrunk against it, and the failure saved as a
//! replay.

use std::io::Write;
use std::time::Duration;

use super::HuntArgs;
use super::commands::{FINDINGS, OK, stdio};
use crate::error::{Error, Result};
use crate::flow::generator::Mix;
use crate::hunt::replay;
use crate::hunt::{Expectations, HuntOptions, Service, Setup, hunt, render};

pub(super) fn run(args: &HuntArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let spec = crate::contract::resolve_flow(&args.flow)?;
    let mix = match &args.mix {
        Some(m) => Mix::parse(&spec, m)?,
        None => Mix::uniform(&spec),
    };
    if args.flows == 0 || args.trials == 0 || args.timeout == 0 {
        return Err(Error::Usage(
            "--flows, --trials and --timeout must be at least 1".into(),
        ));
    }
    let text = std::fs::read_to_string(&args.expect).map_err(|e| Error::io(&args.expect, e))?;
    let expectations = Expectations::parse(&spec, &text).map_err(|e| e.within(&args.expect.display().to_string()))?;
    let (hints, seed) = super::sample::setup(&args.generate, err)?;
    let env = super::kafka::connect(&args.connect, err)?;
    let prefix = format!("hunt-{}-{seed}", std::process::id());
    let logs = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let setup = Setup {
        env: &env,
        spec: &spec,
        service: Service {
            command: args.command.clone(),
            group: args.group.clone(),
        },
        output: args.output.clone(),
        expectations,
        timeout: Duration::from_secs(args.timeout),
        prefix,
        logs: logs.clone(),
    };
    let options = HuntOptions {
        flows: args.flows,
        mix,
        trials: args.trials,
        max_shrink_steps: args.max_shrink_steps,
        seed,
        confirm: 2,
        hints,
    };
    writeln!(err, "consumer logs: {}", logs.display()).map_err(stdio)?;
    let report = hunt(&setup, &options, &mut |line| {
        let _ = writeln!(err, "{line}");
    })?;
    write!(out, "{}", render::render(&spec, &report)).map_err(stdio)?;
    let Some(found) = &report.found else { return Ok(OK) };
    if let Some(dir) = &args.save_failures {
        let saved = replay::save_found(dir, spec.name(), &args.flow, &setup, found, "flowharness hunt")?;
        writeln!(out, "{saved}").map_err(stdio)?;
    }
    Ok(FINDINGS)
}

//! What each subcommand does. Output goes to the writers given, so tests
//! drive commands in-process; the return value is the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Cli, Command, FixtureCommand, SchemaCommand};
use crate::error::{Error, Result};
use crate::fixture::Fixture;
use crate::schema::compat::{self, Mode};
use crate::schema::protobuf_compat;
use crate::schema::{AvroSchema, ProtoSchema, Schema};

/// Exit codes shared by every command.
pub const OK: i32 = 0;
pub const FINDINGS: i32 = 1;
pub const BAD_INPUT: i32 = 2;
/// A bug in flowharness (sysexits' EX_SOFTWARE).
pub const INTERNAL: i32 = 70;

/// Runs a parsed command line, writing to `out` and `err` only.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    run_with(cli, out, err, false)
}

/// Runs a parsed command line in the binary: on stdout and stderr, with a
/// live progress display where stderr is a terminal.
pub fn run_on_terminal(cli: Cli) -> i32 {
    use std::io::IsTerminal as _;
    let live = std::io::stderr().is_terminal();
    run_with(cli, &mut std::io::stdout(), &mut std::io::stderr(), live)
}

fn run_with(cli: Cli, out: &mut dyn Write, err: &mut dyn Write, live: bool) -> i32 {
    let result = match cli.command {
        Command::Asyncapi(command) => super::asyncapi::run(command, out, err),
        Command::Schema(SchemaCommand::Validate { files }) => schema_validate(&files, out, err),
        Command::Schema(SchemaCommand::Compat { old, new, mode }) => schema_compat(&old, &new, &mode, out),
        Command::Fixture(FixtureCommand::Check { files }) => fixture_check(&files, out, err),
        Command::Sample(args) => super::sample::run(&args, out, err),
        Command::Generate(args) => super::flows::generate(&args, out, err),
        Command::Verify(args) => match &args.file {
            Some(_) => super::flows::verify(&args, out),
            None => super::kafka::verify_topic(&args, out, err),
        },
        Command::Up(args) => super::kafka::up(&args, out, err),
        Command::Broker(args) => super::kafka::broker(&args, err),
        Command::Registry(args) => super::kafka::registry(&args, err),
        Command::Produce(args) => super::kafka::produce(&args, out, err),
        Command::Test(args) => {
            let options = crate::bdd::TestOptions {
                paths: args.paths,
                junit: args.junit,
                json: args.json,
                tags: args.tags,
                seed: args.seed,
                concurrency: usize::from(args.concurrency),
                containers: args.containers.options(),
                save_failures: args.save_failures,
            };
            crate::bdd::run(&options, out).map(|passed| if passed { OK } else { FINDINGS })
        }
        Command::Load(args) => super::load::load(&args, out, err, live),
        Command::Hunt(args) => super::hunt::run(&args, out, err),
        Command::Fake(args) => super::fake::run(&args, out, err),
        Command::Bench(args) => super::load::bench(&args, out, err),
        Command::Report(command) => super::load::report_command(&command, out),
        Command::Steps => crate::bdd::write_catalogue(out).map(|()| OK).map_err(stdio),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = report_errors(&e, err);
            exit_code(&e)
        }
    }
}

/// The exit code of a command that failed: 70 for a bug in flowharness,
/// 2 for bad input and for a broker or registry that failed (findings,
/// exit 1, are not errors).
pub fn exit_code(e: &Error) -> i32 {
    match e {
        Error::Internal { .. } => INTERNAL,
        Error::Io { .. } | Error::Invalid(_) | Error::Usage(_) | Error::Unreachable { .. } | Error::System { .. } => {
            BAD_INPUT
        }
    }
}

fn report_errors(e: &Error, err: &mut dyn Write) -> Result<()> {
    for d in e.diagnostics() {
        writeln!(err, "error: {d}").map_err(stdio)?;
    }
    Ok(())
}

pub(super) fn stdio(e: std::io::Error) -> Error {
    Error::io(Path::new("<stdout>"), e)
}

fn schema_validate(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let mut code = OK;
    for file in files {
        let place = file.display().to_string();
        if crate::asyncapi::is_asyncapi(file) {
            code = code.max(super::asyncapi::validate_doc(file, out, err)?);
            continue;
        }
        match Schema::load(file) {
            Ok(Schema::Avro(s)) => {
                let what = s.root_name().map_or_else(
                    || s.describe(s.root()),
                    |n| format!("{} {n}", s.node(s.root()).type_name()),
                );
                writeln!(out, "ok: {place}: Avro {what}").map_err(stdio)?;
            }
            Ok(Schema::Protobuf(s)) => {
                let imports: Vec<&str> = s.imports().iter().map(|f| f.name.as_str()).collect();
                writeln!(
                    out,
                    "ok: {place}: Protobuf message {} (message indexes {:?}{})",
                    s.message().full_name(),
                    s.indexes(),
                    if imports.is_empty() {
                        String::new()
                    } else {
                        format!("; imports {}", imports.join(", "))
                    }
                )
                .map_err(stdio)?;
            }
            Ok(Schema::Json(s)) => {
                let examples = s.examples();
                let mut bad = 0;
                for (i, example) in examples.iter().enumerate() {
                    for v in s.validate(example) {
                        bad += 1;
                        writeln!(err, "error: {place}: examples[{i}]: {v}").map_err(stdio)?;
                    }
                }
                if bad == 0 {
                    writeln!(out, "ok: {place}: JSON Schema, {} examples valid", examples.len()).map_err(stdio)?;
                } else {
                    code = BAD_INPUT;
                }
            }
            Err(e) => {
                report_errors(&e, err)?;
                code = BAD_INPUT;
            }
        }
    }
    Ok(code)
}

/// The versions `schema compat` compares: all Avro or all Protobuf.
enum Versions {
    Avro(Vec<AvroSchema>),
    Protobuf(Vec<ProtoSchema>),
}

fn load_versions(paths: &[&Path]) -> Result<Versions> {
    let mut avro = Vec::new();
    let mut proto = Vec::new();
    for path in paths {
        match Schema::load(path)? {
            Schema::Avro(s) => avro.push(s),
            Schema::Protobuf(s) => proto.push(*s),
            _ => {
                return Err(Error::Usage(format!(
                    "{}: schema compat checks Avro and Protobuf schemas; this is a JSON Schema (its compatibility is not implemented: nothing is called compatible)",
                    path.display()
                )));
            }
        }
    }
    match (avro.is_empty(), proto.is_empty()) {
        (_, true) => Ok(Versions::Avro(avro)),
        (true, false) => Ok(Versions::Protobuf(proto)),
        (false, false) => Err(Error::Usage(
            "schema compat: the versions mix Avro and Protobuf; a subject holds one format".into(),
        )),
    }
}

fn schema_compat(old: &[PathBuf], new: &Path, mode: &str, out: &mut dyn Write) -> Result<i32> {
    let mode: Mode = mode.parse().map_err(Error::Usage)?;
    let mut paths: Vec<&Path> = old.iter().map(PathBuf::as_path).collect();
    paths.push(new);
    let (lines, incompatible, rules) = match load_versions(&paths)? {
        Versions::Avro(mut all) => {
            let next = all
                .pop()
                .ok_or_else(|| Error::Usage("schema compat: no new version".into()))?;
            let lines: Vec<String> = compat::check(mode, &next, &all)
                .iter()
                .map(|f| {
                    format!(
                        "incompatible: {} ({}): {}",
                        f.direction,
                        old[f.version].display(),
                        f.incompatibility
                    )
                })
                .collect();
            let n = lines.len();
            (lines, n, String::new())
        }
        Versions::Protobuf(mut all) => {
            let next = all
                .pop()
                .ok_or_else(|| Error::Usage("schema compat: no new version".into()))?;
            let findings = protobuf_compat::check(mode, &next, &all);
            // Incompatible differences first, then the compatible ones as notes.
            let (bad, fine): (Vec<_>, Vec<_>) = findings.iter().partition(|f| !f.difference.change.compatible());
            let line = |word: &str, f: &protobuf_compat::Finding| {
                format!(
                    "{word}: {} ({}): {}",
                    f.direction,
                    old[f.version].display(),
                    f.difference
                )
            };
            let mut lines: Vec<String> = bad.iter().map(|f| line("incompatible", f)).collect();
            lines.extend(fine.iter().map(|f| line("compatible change", f)));
            let rules = format!(" (Protobuf rules; not checked: {})", protobuf_compat::NOT_CHECKED);
            (lines, bad.len(), rules)
        }
    };
    for line in &lines {
        writeln!(out, "{line}").map_err(stdio)?;
    }
    if incompatible == 0 {
        writeln!(
            out,
            "compatible: {} is {mode} compatible with {} earlier version(s){rules}",
            new.display(),
            old.len()
        )
        .map_err(stdio)?;
        return Ok(OK);
    }
    writeln!(out, "{incompatible} incompatibilities under {mode}{rules}").map_err(stdio)?;
    Ok(FINDINGS)
}

fn fixture_check(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let mut code = OK;
    for file in files {
        match Fixture::load(file) {
            Ok(fixture) => {
                let counts = fixture.counts();
                writeln!(
                    out,
                    "ok: {}: {} entries, {} messages, all valid",
                    file.display(),
                    counts.entries,
                    counts.messages
                )
                .map_err(stdio)?;
            }
            Err(e) => {
                report_errors(&e, err)?;
                code = BAD_INPUT;
            }
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bug_exits_70_and_asks_for_a_report_everything_else_2() {
        let bug = Error::internal("the observer thread panicked");
        assert_eq!(exit_code(&bug), 70);
        assert!(
            bug.to_string().contains("a bug in flowharness: please report it"),
            "{bug}"
        );
        let down = Error::unreachable("kafka 127.0.0.1:1", "no answer within 2s");
        assert_eq!(exit_code(&down), 2);
        // The cause is kept, for callers that walk the chain.
        let source = std::error::Error::source(&down).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("no answer within 2s"));
        assert_eq!(
            down.within("produce").to_string(),
            "produce: kafka 127.0.0.1:1: no answer within 2s"
        );
        assert_eq!(exit_code(&Error::Usage("--rate: not a rate".into())), 2);
        let refused = Error::system("no free port on 127.0.0.1", std::io::Error::other("address in use"));
        assert_eq!(exit_code(&refused), 2);
        assert_eq!(refused.to_string(), "no free port on 127.0.0.1: address in use");
    }
}

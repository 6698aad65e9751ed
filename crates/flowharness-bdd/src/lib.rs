//! BDD: the Gherkin step library compiled into the binary, and the runner
//! behind `flowharness test`. The World and its steps live in this crate
//! (cucumber-rs #304: steps in a library can be dropped by the linker when
//! they live elsewhere); `flowharness steps` lists them all.
//!
//! The pipeline mirrors cucumber-rs: [`preflight`] parses the files and
//! checks every step before anything runs, the runner runs scenarios
//! concurrently on one broker and registry, and the writers print to the
//! console and write JUnit XML and Cucumber JSON.

// The Kafka runtime and the contracts core, under the module names the
// steps use (`crate::flow`, `crate::kafka`).
pub use flowharness_kafka::{
    Diagnostic, Error, Result, asyncapi, codec, contract, error, fake, fixture, fixture_lines, fixture_writer, flow,
    generate, harness, hunt, kafka, load, num, registry, report, schema, service, verify,
};

mod arguments;
mod catalogue;
pub mod console;
pub mod expect_failure;
pub mod preflight;
mod replay;
mod steps;
pub mod world;

use std::io::Write;
use std::path::PathBuf;

use cucumber::gherkin::Feature;
use cucumber::writer::Stats as _;
use cucumber::{World as _, WriterExt as _, writer};
use futures::FutureExt as _;

pub use catalogue::{CATALOGUE, write_catalogue};
pub use world::FlowWorld;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// A tag expression: `@happy and not @slow`.
    pub tags: Option<String>,
    /// The run's seed; each scenario's seed derives from it.
    pub seed: Option<u64>,
    /// Scenarios run at once.
    pub concurrency: usize,
    /// Run against a broker in a container (testcontainers) instead.
    pub containers: Option<crate::kafka::containers::ContainerOptions>,
    /// Where failures are saved as replays.
    pub save_failures: Option<PathBuf>,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            paths: Vec::new(),
            junit: None,
            json: None,
            tags: None,
            seed: None,
            concurrency: 8,
            containers: None,
            save_failures: None,
        }
    }
}

fn sink(path: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| Error::io(p, e))?),
        None => Box::new(std::io::sink()),
    })
}

/// Hands cucumber features parsed beforehand (by [`preflight::parse`]).
struct Prepared;

impl cucumber::Parser<Vec<Feature>> for Prepared {
    type Cli = cucumber::cli::Empty;
    type Output = futures::stream::Iter<std::vec::IntoIter<cucumber::parser::Result<Feature>>>;

    fn parse(self, input: Vec<Feature>, _: Self::Cli) -> Self::Output {
        futures::stream::iter(input.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

/// Runs feature files; returns whether everything passed. Bad input (a file that does not parse, an unknown
/// step, a bad tag expression) is an error before anything runs; failed
/// and skipped steps make the outcome a failure. Everything the run prints
/// goes to `out`, as it happens.
pub fn run(options: &TestOptions, out: &mut dyn Write) -> Result<bool> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let console = console::install(sender);
            run_on(options, console.0.clone())
        });
        let mut failed_write = None;
        for chunk in receiver {
            if failed_write.is_none() {
                failed_write = out.write_all(&chunk).and_then(|()| out.flush()).err();
            }
        }
        let outcome = worker
            .join()
            .unwrap_or_else(|_| Err(Error::internal("the feature run's thread panicked")));
        match failed_write {
            Some(e) if outcome.is_ok() => Err(Error::Usage(format!("writing the run's output: {e}"))),
            _ => outcome,
        }
    })
}

fn run_on(options: &TestOptions, console: console::Console) -> Result<bool> {
    let tags = match &options.tags {
        Some(t) => Some(
            t.parse::<cucumber::gherkin::tagexpr::TagOperation>()
                .map_err(|e| Error::Usage(format!("--tags {t:?}: {e}")))?,
        ),
        None => None,
    };
    if options.paths.is_empty() {
        return Err(Error::Usage("no feature files given".into()));
    }
    let features = preflight::parse(&options.paths)?;
    preflight::check_steps(&features)?;
    if let Some(seed) = options.seed {
        world::set_run_seed(seed);
    }
    if let Some(dir) = &options.save_failures {
        world::set_save_failures(dir.clone());
    }
    if let Some(containers) = &options.containers {
        let env = crate::kafka::Environment::connect(&crate::kafka::Connect {
            containers: Some(containers.clone()),
            ..Default::default()
        })?;
        console::say(format!("broker: {} ({})", env.cluster.bootstrap, env.broker().kind()));
        console::say(format!("registry: {}", env.registry_url()));
        world::use_environment(env);
    }
    console::say(format!(
        "run seed: {} (replay with --seed {})",
        world::run_seed(),
        world::run_seed()
    ));
    let save = options.save_failures.is_some();
    let junit = sink(&options.junit)?;
    let json = sink(&options.json)?;
    let cucumber = FlowWorld::cucumber::<PathBuf>()
        .with_parser(Prepared)
        .with_writer(
            expect_failure::ExpectFailure::new(
                writer::Basic::new(console, writer::Coloring::Auto, writer::Verbosity::Default)
                    .summarized()
                    .tee::<FlowWorld, _>(writer::JUnit::for_tee(junit, 0))
                    .tee::<FlowWorld, _>(writer::Json::for_tee(json)),
            )
            .normalized(),
        )
        .fail_on_skipped()
        .max_concurrent_scenarios(options.concurrency.max(1))
        .before(|feature, _, scenario, w| {
            w.seed = world::scenario_seed(&feature.name, &scenario.name, scenario.position.line);
            w.feature_dir = feature
                .path
                .as_ref()
                .and_then(|p| p.parent().map(std::path::Path::to_path_buf));
            w.scenario.clone_from(&scenario.name);
            async {}.boxed_local()
        })
        .after(move |feature, rule, scenario, finished, w| {
            if let Some(w) = w {
                w.stop_processes();
                if save && matches!(finished, cucumber::event::ScenarioFinished::StepFailed(..)) {
                    match replay::save(feature, rule, scenario, w) {
                        Ok(Some(path)) => {
                            console::say(format!("saved the failure: flowharness test {}", path.display()))
                        }
                        Ok(None) => {}
                        Err(e) => console::say(format!("could not save the failure: {e}")),
                    }
                }
            }
            async {}.boxed_local()
        })
        .with_cli::<cucumber::cli::Empty>(cucumber::cli::Opts {
            tags_filter: tags,
            ..Default::default()
        });
    // A plain executor: blocking step bodies run on their own threads
    // (`world::off_thread`), and a blocking HTTP client must not run inside
    // a tokio runtime.
    let result = futures::executor::block_on(cucumber.run(features));
    if options.containers.is_some() {
        // The run's environment lives in a static, which is never dropped.
        crate::kafka::containers::remove_all();
    }
    Ok(!result.execution_has_failed() && result.parsing_errors() == 0)
}

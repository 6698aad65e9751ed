//! BDD: the Gherkin step library compiled into the binary, and the runner
//! behind `flowharness test`. The World and its steps live in this crate
//! (cucumber-rs #304: steps in a library can be dropped by the linker when
//! they live elsewhere); `flowharness steps` lists them all.

mod steps;
pub mod world;

use std::io::Write;
use std::path::PathBuf;

use cucumber::writer::Stats as _;
use cucumber::{World as _, WriterExt as _, writer};

pub use world::FlowWorld;

/// Every step: keyword, pattern, and an example.
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("Given", "the {string} flow", "Given the \"account-migration\" flow"),
    ("Given", "the seed {int}", "Given the seed 42"),
    (
        "When",
        "{int} {word} flows are produced",
        "When 5 happy flows are produced",
    ),
    (
        "When",
        "{int} flows are produced with the mix {string}",
        "When 20 flows are produced with the mix \"happy=80,cancel=15,rollback=5\"",
    ),
    (
        "When",
        "the fixture {string} is produced",
        "When the fixture \"fixtures/complex.json\" is produced",
    ),
    (
        "When",
        "a {word} flow is produced with its {word} event dropped",
        "When a happy flow is produced with its BalanceRetrieved event dropped",
    ),
    (
        "When",
        "a {word} flow is produced with its {word} event duplicated",
        "When a happy flow is produced with its Validated event duplicated",
    ),
    (
        "When",
        "a {word} flow is produced with its {word} and {word} events swapped",
        "When a happy flow is produced with its BalanceRetrieved and Validated events swapped",
    ),
    (
        "When",
        "a {word} flow is produced with {word} of its {word} event set to {string}",
        "When a happy flow is produced with mpan of its Validated event set to \"1200023305967\"",
    ),
    (
        "Then",
        "{int} complete {word} flows are observed",
        "Then 5 complete happy flows are observed",
    ),
    (
        "Then",
        "nothing is lost or duplicated",
        "Then nothing is lost or duplicated",
    ),
    ("Then", "no violations are reported", "Then no violations are reported"),
    (
        "Then",
        "a {word} violation is reported",
        "Then a transition-not-allowed violation is reported",
    ),
    (
        "Then",
        "every message decodes with the registered schema",
        "Then every message decodes with the registered schema",
    ),
    (
        "Then",
        "the events of each key are observed in flow order",
        "Then the events of each key are observed in flow order",
    ),
    (
        "When",
        "the subscription {string} is published with its options",
        "When the subscription \"INVOICE_NOTIFICATION\" is published with its options",
    ),
    (
        "When",
        "the group {string} is published listing {string}",
        "When the group \"BILLING\" is published listing \"INVOICE_NOTIFICATION,PAYMENT_REMINDER\"",
    ),
    (
        "When",
        "the subscription {string} is updated to {word}",
        "When the subscription \"INVOICE_NOTIFICATION\" is updated to INACTIVE",
    ),
    (
        "When",
        "the published events are produced",
        "When the published events are produced",
    ),
];

/// Prints the catalogue, one step and its example a line.
pub fn write_catalogue(out: &mut dyn Write) -> std::io::Result<()> {
    for (keyword, pattern, example) in CATALOGUE {
        writeln!(out, "{keyword} {pattern}\n    e.g. {example}")?;
    }
    Ok(())
}

/// How a run goes.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// A tag expression: `@happy and not @slow`.
    pub tags: Option<String>,
    /// The seed of the first scenario; the next ones count up from it.
    pub seed: Option<u64>,
}

fn sink(path: &Option<PathBuf>) -> std::io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(std::fs::File::create(p)?),
        None => Box::new(std::io::sink()),
    })
}

/// Runs feature files; returns whether everything passed (skipped steps,
/// such as unknown ones, fail).
pub fn run(options: &TestOptions) -> std::io::Result<bool> {
    let tags = match &options.tags {
        Some(t) => Some(
            t.parse::<cucumber::gherkin::tagexpr::TagOperation>()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--tags {t:?}: {e}")))?,
        ),
        None => None,
    };
    if let Some(seed) = options.seed {
        world::set_first_seed(seed);
    }
    let mut passed = true;
    for path in &options.paths {
        let path = path
            .canonicalize()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let junit = sink(&options.junit)?;
        let json = sink(&options.json)?;
        let cucumber = FlowWorld::cucumber()
            .with_writer(
                writer::Basic::stdout()
                    .summarized()
                    .tee::<FlowWorld, _>(writer::JUnit::for_tee(junit, 0))
                    .tee::<FlowWorld, _>(writer::Json::for_tee(json))
                    .normalized(),
            )
            .fail_on_skipped();
        let cli = cucumber::cli::Opts {
            tags_filter: tags.clone(),
            ..Default::default()
        };
        let cucumber = cucumber.with_cli::<cucumber::cli::Empty>(cli);
        // A plain executor: steps block (rdkafka, the registry client), and a
        // blocking HTTP client must not run inside a tokio runtime.
        let result = futures::executor::block_on(cucumber.run(path));
        passed &= !result.execution_has_failed();
    }
    Ok(passed)
}

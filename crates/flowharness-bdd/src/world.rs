//! The World of a scenario: the contract in use, the scenario's own topic,
//! the messages it queued, and what the last run observed. The broker and
//! registry are shared by every scenario of a run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::flow::FlowSpec;
use crate::kafka::{Connect, Environment};
use crate::schema::Schema;
pub use crate::service::{Processes, kill_all_groups};
use crate::verify::{Message, RunReport};

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
static SCENARIOS: AtomicU64 = AtomicU64::new(0);
static RUN_SEED: AtomicU64 = AtomicU64::new(1);

/// The run's seed (`flowharness test --seed`): each scenario's seed is
/// derived from it and the scenario's place, so it does not depend on the
/// order concurrent scenarios start in.
pub fn set_run_seed(seed: u64) {
    RUN_SEED.store(seed, Ordering::Relaxed);
}

pub fn run_seed() -> u64 {
    RUN_SEED.load(Ordering::Relaxed)
}

/// A scenario's seed: the run seed mixed with where the scenario is.
pub fn scenario_seed(feature: &str, scenario: &str, line: usize) -> u64 {
    // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in feature
        .bytes()
        .chain([0])
        .chain(scenario.bytes())
        .chain(line.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ run_seed()) % 1_000_000_000
}

/// Makes `env` the run's broker and registry (a broker in a container,
/// say), unless the run already has them.
pub fn use_environment(env: Environment) {
    let _ = ENVIRONMENT.set(Ok(env));
}

/// Whether the run's broker and registry come from the environment.
pub fn external_from_env() -> bool {
    std::env::var_os("KAFKA_BOOTSTRAP_SERVERS").is_some()
}

/// The run's broker and registry: the embedded pair, or the external ones
/// `KAFKA_BOOTSTRAP_SERVERS` and `SCHEMA_REGISTRY_URL` name. Started once.
pub fn environment() -> &'static Environment {
    let env = ENVIRONMENT.get_or_init(|| {
        let c = Connect {
            bootstrap: std::env::var("KAFKA_BOOTSTRAP_SERVERS").ok(),
            registry_url: std::env::var("SCHEMA_REGISTRY_URL").ok(),
            registry_auth: std::env::var("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO").ok(),
            properties: std::env::var("KAFKA_PROPERTIES")
                .map(|p| {
                    p.split(';')
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            ..Connect::default()
        };
        Environment::connect(&c).map_err(|e| e.to_string())
    });
    match env {
        Ok(env) => env,
        Err(e) => step_failed(&format!("the broker and registry: {e}")),
    }
}

/// Fails the current step with a message (cucumber reports the panic).
#[allow(
    clippy::panic,
    reason = "cucumber reports a step that panics as failed, with the message"
)]
pub fn step_failed(message: &str) -> ! {
    panic!("{message}")
}

/// The contract a scenario works against: a flow (which names its schema),
/// or a schema alone.
#[derive(Debug, Clone)]
pub enum Contract {
    Flow(Arc<FlowSpec>),
    Schema(Arc<Schema>),
}

#[derive(Debug, Default, cucumber::World)]
#[world(init = Self::new)]
pub struct FlowWorld {
    pub contract: Option<Contract>,
    /// This scenario's own topic, so scenarios never see each other's messages.
    pub topic: String,
    pub seed: u64,
    /// The scenario's name, for what it prints.
    pub scenario: String,
    /// The seed the scenario last generated data with; printed with failures.
    pub generated_with: Option<u64>,
    pub pending: Vec<Message>,
    pub run: Option<RunReport>,
    /// Processes the scenario started; stopped when it ends.
    pub processes: Processes,
    /// How the scenario named its flow (a shipped name or a spec path),
    /// for a saved replay to name it the same way.
    pub flow_ref: Option<String>,
    /// The folder of the feature file: relative fixture paths are looked
    /// up here when they are not found from the working folder.
    pub feature_dir: Option<std::path::PathBuf>,
    /// The service under test that a hunt restarts for every trial.
    pub service: Option<crate::hunt::Service>,
    /// The scenario's last hunt.
    pub hunt: Option<HuntRun>,
    /// A fake upstream the scenario started.
    pub fake: Option<RunningFake>,
}

/// A fake running for a scenario on a thread of its own.
pub struct RunningFake {
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    pub handle: Option<std::thread::JoinHandle<crate::Result<crate::fake::FakeReport>>>,
    pub live: Arc<crate::fake::Live>,
    /// Its rules, topics as the scenario's.
    pub rules: crate::fake::Rules,
}

impl std::fmt::Debug for RunningFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningFake").field("live", &self.live).finish()
    }
}

impl RunningFake {
    /// Stops it and gives its report.
    pub fn stop(&mut self) -> crate::Result<crate::fake::FakeReport> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(crate::Error::internal("the fake's thread panicked"))),
            None => Err(crate::Error::Usage("the fake was already stopped".into())),
        }
    }
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.stop();
        }
    }
}

/// A hunt a scenario ran: what it found, where its replay went, and what
/// it checked (for the replay to check the same).
#[derive(Debug, Clone)]
pub struct HuntRun {
    pub report: crate::hunt::HuntReport,
    pub saved: Option<crate::hunt::replay::Saved>,
    pub output: String,
    pub within: i64,
    pub rows: Vec<Vec<String>>,
}

static SAVE_FAILURES: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Where failures are saved as replays (`flowharness test --save-failures`).
pub fn set_save_failures(dir: std::path::PathBuf) {
    let _ = SAVE_FAILURES.set(dir);
}

/// Where failures are saved: the folder given, else `flowharness-failures`
/// in the temporary folder.
pub fn save_failures_dir() -> std::path::PathBuf {
    SAVE_FAILURES
        .get()
        .cloned()
        .unwrap_or_else(|| std::env::temp_dir().join("flowharness-failures"))
}

impl FlowWorld {
    /// A path from a step: as given when it exists from the working
    /// folder, else beside the feature file.
    pub fn resolve_path(&self, path: &str) -> std::path::PathBuf {
        let p = std::path::PathBuf::from(path);
        if p.is_absolute() || p.exists() {
            return p;
        }
        match &self.feature_dir {
            Some(dir) if dir.join(&p).exists() => dir.join(p),
            _ => p,
        }
    }
}

impl FlowWorld {
    fn new() -> Self {
        let n = SCENARIOS.fetch_add(1, Ordering::Relaxed);
        FlowWorld {
            topic: format!("scenario-{}-{n}", std::process::id()),
            seed: run_seed().wrapping_add(n),
            ..FlowWorld::default()
        }
    }

    pub fn flow(&self) -> &Arc<FlowSpec> {
        match &self.contract {
            Some(Contract::Flow(f)) => f,
            Some(Contract::Schema(_)) => step_failed("this step needs a flow, and the scenario chose a schema alone"),
            None => step_failed("no flow chosen: start with Given the \"NAME\" flow"),
        }
    }

    /// The flow of the contract, when the scenario chose one.
    pub fn flow_spec(&self) -> Option<Arc<FlowSpec>> {
        match &self.contract {
            Some(Contract::Flow(f)) => Some(f.clone()),
            _ => None,
        }
    }

    /// The schema of the contract.
    pub fn schema(&self) -> &Schema {
        match &self.contract {
            Some(Contract::Flow(f)) => f.schema(),
            Some(Contract::Schema(s)) => s,
            None => step_failed("no contract chosen: start with Given the \"NAME\" flow or Given the schema \"FILE\""),
        }
    }

    pub fn run(&self) -> &RunReport {
        self.run
            .as_ref()
            .unwrap_or_else(|| step_failed("nothing was produced yet"))
    }

    /// Fails the step, naming the seed when the scenario generated data.
    pub fn fail(&self, message: &str) -> ! {
        if let Some(seed) = self.generated_with {
            step_failed(&format!(
                "{message}\n(generated with seed {seed}; replay the run with --seed {})",
                run_seed()
            ))
        }
        step_failed(message)
    }

    /// Stops what the scenario started.
    pub fn stop_processes(&mut self) {
        self.fake = None;
        self.processes.stop();
    }
}

/// Runs a blocking step body on its own thread, so concurrent scenarios
/// are not held up by one another's broker round trips. A panic (a failed
/// step) is carried back to cucumber as it was.
pub async fn off_thread<F>(w: &mut FlowWorld, body: F)
where
    F: FnOnce(&mut FlowWorld) + Send + 'static,
{
    let mut world = std::mem::take(w);
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut world)));
        let _ = tx.send((world, outcome));
    });
    match rx.await {
        Ok((world, outcome)) => {
            *w = world;
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
        Err(_) => step_failed("the step's thread ended without an answer"),
    }
}

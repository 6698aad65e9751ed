//! The World of a scenario: the contract in use, the scenario's own topic,
//! the messages it queued, and what the last run observed. The broker and
//! registry are shared by every scenario of a run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::flow::FlowSpec;
use crate::kafka::{Connect, Environment};
use crate::schema::Schema;
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
#[allow(clippy::panic)]
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
}

/// Processes a scenario started, each the leader of its own process
/// group (so `sh -c "a & b"` and a `cargo run` with its compiler are one
/// group); stopped when it ends or is dropped.
#[derive(Debug, Default)]
pub struct Processes(pub Vec<std::process::Child>);

/// Process groups started by this process and not stopped yet, for Ctrl-C.
static GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// How long a process group has to stop after SIGTERM before SIGKILL.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

fn signal_group(group: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{group}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

impl Processes {
    /// Adds a child started with `process_group(0)`.
    pub fn add(&mut self, child: std::process::Child) {
        GROUPS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(child.id());
        self.0.push(child);
    }

    /// Stops every process group: SIGTERM, then SIGKILL after a grace
    /// period; the leaders are reaped.
    pub fn stop(&mut self) {
        let children: Vec<std::process::Child> = self.0.drain(..).collect();
        for child in &children {
            signal_group(child.id(), "TERM");
        }
        let deadline = std::time::Instant::now() + GRACE;
        for mut child in children {
            while std::time::Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            // The leader may be gone and others of its group not.
            signal_group(child.id(), "KILL");
            let _ = child.kill();
            let _ = child.wait();
            GROUPS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|g| *g != child.id());
        }
    }
}

/// Kills every process group scenarios started and did not stop (Ctrl-C).
pub fn kill_all_groups() {
    let groups = std::mem::take(&mut *GROUPS.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for g in &groups {
        signal_group(*g, "TERM");
    }
    if !groups.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    for g in groups {
        signal_group(g, "KILL");
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
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
            Some(Contract::Flow(f)) => &f.schema,
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

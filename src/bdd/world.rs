//! The World of a scenario: the flow in use, the scenario's own topic, the
//! messages it queued, and what the last run observed. The broker and
//! registry are shared by every scenario of a run.

use std::sync::{Arc, OnceLock};

use crate::flow::FlowSpec;
use crate::kafka::{Connect, Environment};
use crate::verify::{Message, RunReport};

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
static SCENARIOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FIRST_SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Scenario seeds count up from this one (`flowharness test --seed`).
pub fn set_first_seed(seed: u64) {
    FIRST_SEED.store(seed, std::sync::atomic::Ordering::Relaxed);
}

/// The run's broker and registry: the embedded pair, or the external ones
/// `KAFKA_BOOTSTRAP_SERVERS` and `SCHEMA_REGISTRY_URL` name. Started once.
pub fn environment() -> &'static Environment {
    let env = ENVIRONMENT.get_or_init(|| {
        let c = Connect {
            bootstrap: std::env::var("KAFKA_BOOTSTRAP_SERVERS").ok(),
            registry_url: std::env::var("SCHEMA_REGISTRY_URL").ok(),
            registry_auth: std::env::var("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO").ok(),
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

#[derive(Debug, cucumber::World)]
#[world(init = Self::new)]
pub struct FlowWorld {
    pub flow: Option<Arc<FlowSpec>>,
    /// This scenario's own topic, so scenarios never see each other's messages.
    pub topic: String,
    pub seed: u64,
    pub pending: Vec<Message>,
    pub run: Option<RunReport>,
}

impl FlowWorld {
    fn new() -> Self {
        let n = SCENARIOS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        FlowWorld {
            flow: None,
            topic: format!("scenario-{}-{n}", std::process::id()),
            seed: n,
            pending: Vec::new(),
            run: None,
        }
    }

    pub fn flow(&self) -> &Arc<FlowSpec> {
        self.flow
            .as_ref()
            .unwrap_or_else(|| step_failed("no flow chosen: start with Given the \"NAME\" flow"))
    }

    pub fn run(&self) -> &RunReport {
        self.run
            .as_ref()
            .unwrap_or_else(|| step_failed("nothing was produced yet"))
    }
}

//! Choosing the contract (a flow, or a schema alone), the seed, and the
//! broker and registry.

use std::sync::Arc;

use cucumber::given;

use super::super::world::{Contract, FlowWorld, environment, external_from_env, off_thread, step_failed};

#[given(expr = "the {string} flow")]
fn the_flow(w: &mut FlowWorld, name: String) {
    let name = w.resolve_path(&name).display().to_string();
    let spec = crate::contract::resolve_flow(&name).unwrap_or_else(|e| step_failed(&e.to_string()));
    w.contract = Some(Contract::Flow(Arc::new(spec)));
    w.flow_ref = Some(name);
}

#[given(expr = "the schema {string}")]
fn the_schema(w: &mut FlowWorld, name: String) {
    let schema = crate::contract::resolve_schema(&name).unwrap_or_else(|e| step_failed(&e.to_string()));
    w.contract = Some(Contract::Schema(Arc::new(schema)));
}

#[given(expr = "the seed {int}")]
fn the_seed(w: &mut FlowWorld, seed: u64) {
    w.seed = seed;
}

#[given("the broker and registry")]
async fn the_broker_and_registry(w: &mut FlowWorld) {
    off_thread(w, |_| {
        let env = environment();
        crate::console::say(format!(
            "broker: {} ({}), registry: {}",
            env.broker().bootstrap(),
            env.broker().kind(),
            env.registry_url()
        ));
    })
    .await;
}

#[given("the broker and registry from the environment")]
async fn the_broker_and_registry_from_the_environment(w: &mut FlowWorld) {
    if !external_from_env() {
        step_failed(
            "this scenario runs against an external broker: set KAFKA_BOOTSTRAP_SERVERS \
             (and SCHEMA_REGISTRY_URL, KAFKA_PROPERTIES=\"key=value;…\" as needed)",
        );
    }
    off_thread(w, |_| {
        let env = environment();
        if let Err(e) = env.cluster.ping() {
            step_failed(&e.to_string());
        }
    })
    .await;
}

//! Runs every feature file under `features/` on the embedded broker and
//! registry: `flowharness test features/`, as a user runs it. The consumer
//! feature starts the reference service, which cargo test built beside
//! this test (`target/<profile>/examples/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    reason = "a test: an expect that fails is a failed test, with its message"
)]

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"));
    command.args(["test", &format!("{root}/features")]).current_dir(root);
    command.env_remove("MIGRATION_STATUS_SERVICE");
    let service = std::path::Path::new(env!("CARGO_BIN_EXE_migration-status-service"));
    assert!(service.exists(), "{} was built", service.display());
    let started = std::time::Instant::now();
    let status = command.status().expect("flowharness test runs");
    if status.success() {
        println!("features: passed in {:.1}s", started.elapsed().as_secs_f64());
    } else {
        println!("features: failed ({status})");
        std::process::exit(1);
    }
}

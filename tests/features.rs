//! Runs every feature file under `features/` on the embedded broker and
//! registry: `flowharness test features/`, as a user runs it. The consumer
//! feature starts the reference service, which cargo test built beside
//! this test (`target/<profile>/examples/`).

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowharness"));
    command.args(["test", &format!("{root}/features")]).current_dir(root);
    let service = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples/migration-status-service")))
        .filter(|p| p.exists());
    if let Some(service) = service {
        command.env("MIGRATION_STATUS_SERVICE", service);
    }
    let started = std::time::Instant::now();
    let status = command.status().expect("flowharness test runs");
    if status.success() {
        println!("features: passed in {:.1}s", started.elapsed().as_secs_f64());
    } else {
        println!("features: failed ({status})");
        std::process::exit(1);
    }
}

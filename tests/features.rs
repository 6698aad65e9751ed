//! Runs every feature file under `features/` on the embedded broker and
//! registry, as `flowharness test features/` would.

fn main() {
    let options = flowharness::bdd::TestOptions {
        paths: vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/features"
        ))],
        ..Default::default()
    };
    let started = std::time::Instant::now();
    match flowharness::bdd::run(&options) {
        Ok(true) => println!("features: passed in {:.1}s", started.elapsed().as_secs_f64()),
        Ok(false) => {
            println!("features: failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("features: {e}");
            std::process::exit(1);
        }
    }
}

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
    match flowharness::bdd::run(&options) {
        Ok(true) => println!("features: 1 passed, 0 failed"),
        Ok(false) => {
            println!("features: 0 passed, 1 failed");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("features: {e}");
            std::process::exit(1);
        }
    }
}

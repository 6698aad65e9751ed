use clap::Parser;

fn main() {
    let cli = flowharness::cli::Cli::parse();
    std::process::exit(flowharness::cli::run_on_terminal(cli));
}

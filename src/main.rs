use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = flowharness::cli::Cli::parse();
    let code = flowharness::cli::run(cli, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}

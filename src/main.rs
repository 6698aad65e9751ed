use clap::Parser;

/// mimalloc, not glibc's malloc: the binary's pipelines (generate's
/// writer thread, verify's reader) free on one thread what another
/// allocated, which glibc serializes on its arena locks, and the value
/// trees of the contract paths are many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = flowharness::cli::Cli::parse();
    std::process::exit(flowharness::cli::run_on_terminal(cli));
}

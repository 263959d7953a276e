//! The `uctriage` binary: parse the command line, run, exit with the contract's code.

// Readers build many small records on every core; mimalloc keeps that cheap and returns memory
// instead of leaving it in per-thread arenas.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    uctriage::run(std::env::args_os())
}

//! The `uctriage` binary: parse the command line, run, exit with the contract's code.

// Readers build many small records on every core; mimalloc keeps that cheap and returns memory
// instead of leaving it in per-thread arenas. It is built without transparent huge pages (the
// workspace's `no_thp` feature): asked for them, it had the kernel zero a 2 MB page for each
// region a thread first touched, a third of the start-up of a small scan.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    uctriage::run(std::env::args_os())
}

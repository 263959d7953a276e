//! The `uctriage` binary: parse the command line, run, exit with the contract's code.
fn main() -> std::process::ExitCode {
    uctriage::run(std::env::args_os())
}

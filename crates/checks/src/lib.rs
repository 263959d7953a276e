//! Active checks (`uctriage check ...`). Being built; see issue "Active checks".

use std::io::Write;

/// `uctriage check` flags.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The kind of check and its targets.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Run a check; returns the process exit code (0 pass or warn, 1 any fail, 2 usage).
pub fn run(_args: &CheckArgs, _out: &mut dyn Write) -> u8 {
    2
}

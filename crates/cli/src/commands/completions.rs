//! `uctriage completions SHELL`: the shell completion script, generated from the flags.

use std::io::Write;

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::{CliError, Exit};

pub fn run(args: &CompletionsArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "uctriage", &mut script);
    out.write_all(&script)?;
    Ok(Exit::Ok)
}

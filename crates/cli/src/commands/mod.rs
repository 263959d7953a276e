//! One module per command. Each takes its flags and a writer, and returns the exit code.

mod codes;
mod completions;
mod evidence;
mod explain;
mod fleet;
mod man;
mod push;
mod rules;
mod sample;
mod scan;
mod serve;
mod triage;

use std::io::Write;

use crate::args::{Cli, Command};
use crate::style::Style;
use crate::{CliError, Exit};

pub fn dispatch(cli: &Cli, out: &mut dyn Write) -> Result<Exit, CliError> {
    let style = Style::new(cli.color);
    match &cli.command {
        Command::Explain(a) => explain::run(a, style, out),
        Command::Scan(a) => scan::run(a, cli.color, out),
        Command::Rules(a) => rules::run(a, out),
        Command::Sample(a) => sample::run(a, out),
        Command::Evidence(a) => evidence::run(a, out),
        Command::Codes(a) => codes::run(a, out),
        Command::Triage(a) => triage::run(a, style, out),
        Command::Serve(a) => serve::run(a, out),
        Command::Fleet(a) => fleet::run(a, out),
        Command::Push(a) => push::run(a, out),
        Command::Completions(a) => completions::run(a, out),
        Command::Man(a) => man::run(a, out),
        Command::Check(a) => Ok(match uctriage_checks::run(a, out) {
            0 => Exit::Ok,
            1 => Exit::Problems,
            3 => Exit::Inconclusive,
            _ => Exit::Usage,
        }),
    }
}

/// Serialize `value` as pretty JSON followed by a newline.
fn write_json<T: serde::Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| CliError::usage(e.to_string()))?;
    writeln!(out)?;
    Ok(())
}

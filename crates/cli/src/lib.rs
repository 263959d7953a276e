//! The uctriage command line: flags in [`args`], one module per command in [`commands`].
//!
//! Exit codes follow the project's contract: 0 success (or verdict healthy), 1 problems or an
//! unknown code, 2 bad usage or nothing readable, 3 inconclusive.

pub mod args;
pub mod client;
pub mod commands;
pub mod style;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

/// The process exit codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success; for `scan`, verdict healthy.
    Ok = 0,
    /// Problems found, or an unknown code.
    Problems = 1,
    /// Bad usage or nothing could be read.
    Usage = 2,
    /// Inputs were read but hold nothing the rules can judge.
    Inconclusive = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error a command reports to the user; `exit` says which code the process ends with.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Usage, message: message.into() }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError { exit: Exit::Usage, message: e.to_string() }
    }
}

/// Run the command line and return the exit code. A closed stdout (`| head`) ends quietly.
pub fn run<I, T>(argv: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = commands::dispatch(&cli, &mut out);
    let _ = out.flush();
    match result {
        Ok(exit) => exit.into(),
        Err(e) if e.message.contains("Broken pipe") => Exit::Ok.into(),
        Err(e) => {
            let _ = writeln!(io::stderr(), "uctriage: {}", uctriage_report::terminal_safe(&e.message));
            e.exit.into()
        }
    }
}

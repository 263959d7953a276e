//! The error type of the checks: what stops a check from running at all. A probe that fails is not
//! an error; it is a `fail` in the report.

use std::path::PathBuf;

/// Why a check could not run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// An input file could not be understood.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A target on the command line is not HOST, HOST:PORT, IP or IP:PORT.
    #[error("bad target {target:?}: {reason}")]
    Target { target: String, reason: String },
    /// A flag value is not usable.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Error {
    pub(crate) fn parse(path: &std::path::Path, message: impl Into<String>) -> Self {
        Error::Parse { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Read { path: path.to_path_buf(), source }
    }
}

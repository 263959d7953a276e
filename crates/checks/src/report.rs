//! The result of a check kind: a target and its checks, written as text or JSON.

use std::io::{self, Write};

use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One check: a stable id, its status, what was seen and, unless it passed, what to do.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Check { id: id.into(), status: Status::Pass, detail: detail.into(), fix: None }
    }

    pub fn warn(id: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { id: id.into(), status: Status::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub fn fail(id: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { id: id.into(), status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub fn skip(id: impl Into<String>, detail: impl Into<String>) -> Self {
        Check { id: id.into(), status: Status::Skip, detail: detail.into(), fix: None }
    }
}

/// What one `uctriage check` run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(target: impl Into<String>) -> Self {
        Report { target: target.into(), checks: Vec::new() }
    }

    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// The check with this id, if any.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The worst status of all checks (`Pass` for an empty report).
    pub fn worst(&self) -> Status {
        self.checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
    }

    /// 0 when every check passed, warned or was skipped; 1 when any failed.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.checks.iter().any(|c| c.status == Status::Fail))
    }

    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.target)?;
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let pad = " ".repeat(width + 10);
        for c in &self.checks {
            let mut lines = c.detail.lines();
            writeln!(out, "  {}  {:width$}  {}", c.status.label(), c.id, lines.next().unwrap_or(""))?;
            for line in lines {
                writeln!(out, "{pad}{line}")?;
            }
            if let Some(fix) = &c.fix {
                let mut fix_lines = fix.lines();
                writeln!(out, "{pad}fix: {}", fix_lines.next().unwrap_or(""))?;
                for line in fix_lines {
                    writeln!(out, "{pad}     {line}")?;
                }
            }
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        writeln!(
            out,
            "{} pass, {} warn, {} fail, {} skip",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail),
            count(Status::Skip)
        )
    }
}

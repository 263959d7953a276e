//! `uctriage evidence PATH...`: the normalized records as JSON Lines.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};

use uctriage_evidence::counted;
use uctriage_report::{Redact, Redactor};
use uctriage_scan::ScanError;
use uctriage_sources::{read, readers, Evidence, Options, Sink, Source};

use crate::args::EvidenceArgs;
use crate::{CliError, Exit};

/// Serialized records an input may hold in memory while it waits for its turn; beyond this they
/// go to an unnamed temporary file, so a large input never sits in memory whole.
const IN_MEMORY: usize = 8 * 1024 * 1024;

/// One input's records, serialized, waiting for their turn to be written in input order.
#[derive(Default)]
struct JsonLines {
    buf: Vec<u8>,
    spill: Option<BufWriter<File>>,
    error: Option<io::Error>,
}

impl JsonLines {
    fn spill_buffer(&mut self) -> io::Result<()> {
        let w = match &mut self.spill {
            Some(w) => w,
            // The file has no name and is gone when closed, even if the process is killed.
            None => self.spill.insert(BufWriter::with_capacity(1 << 20, tempfile::tempfile()?)),
        };
        w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Write everything held, in order.
    fn drain(mut self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(w) = self.spill.take() {
            let mut f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
            f.rewind()?;
            io::copy(&mut f, out)?;
        }
        out.write_all(&self.buf)
    }

    /// Write everything held, in order, each record redacted (`--redact`): a first pass learns
    /// the values of the input's named fields, so that a name is replaced also in the records
    /// before the one that names it; the second writes.
    fn drain_redacted(mut self, out: &mut dyn Write, r: &mut Redactor) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut file = match self.spill.take() {
            Some(w) => Some(w.into_inner().map_err(io::IntoInnerError::into_error)?),
            None => None,
        };
        for write in [false, true] {
            let mut each = |line: &[u8]| -> io::Result<()> {
                let Ok(mut e) = serde_json::from_slice::<Evidence>(line) else { return Ok(()) };
                if write {
                    e.redact(r);
                    serde_json::to_writer(&mut *out, &e)?;
                    out.write_all(b"\n")
                } else {
                    r.learn(&e);
                    Ok(())
                }
            };
            if let Some(f) = &mut file {
                f.rewind()?;
                for line in BufReader::new(&mut *f).split(b'\n') {
                    each(&line?)?;
                }
            }
            for line in self.buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                each(line)?;
            }
        }
        Ok(())
    }
}

impl Sink for JsonLines {
    fn record(&mut self, e: Evidence) {
        if self.error.is_some() {
            return;
        }
        if serde_json::to_writer(&mut self.buf, &e).is_ok() {
            self.buf.push(b'\n');
        }
        if self.buf.len() >= IN_MEMORY {
            if let Err(e) = self.spill_buffer() {
                self.error = Some(e);
            }
        }
    }
}

pub fn run(args: &EvidenceArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    if args.list_formats {
        for r in readers::registry() {
            writeln!(out, "{}", r.format())?;
        }
        return Ok(Exit::Ok);
    }
    if let Some(f) = &args.format {
        if !readers::registry().iter().any(|r| r.format() == f) {
            return Err(CliError::usage(format!("unknown format {f:?} (see `uctriage evidence --list-formats`)")));
        }
    }
    let opts = Options { format: args.format.clone(), ..Options::default() };
    let sources: Vec<Source> = args.paths.iter().map(|p| Source::from_arg(p)).collect();
    let mut err = std::io::stderr();
    let mut write_error = None;
    // One redactor for the whole run, on this thread: records and warnings get their placeholders
    // in input order, the same value the same placeholder.
    let mut redactor = args.redact.then(Redactor::new);
    let shown = |r: &mut Option<Redactor>, s: &str| -> String {
        let s = match r {
            Some(r) => r.text(s),
            None => s.to_owned(),
        };
        uctriage_report::terminal_safe(&s).into_owned()
    };
    // Every input's report (without its records), for the error when none could be read.
    let mut inputs = Vec::new();
    // Records are streamed through a sink of our own rather than `uctriage_scan::read_records`,
    // which hands over an input's records whole: a large input never sits in memory here.
    let summary = read(&sources, &opts, JsonLines::default, |report, lines| {
        for w in &report.warnings {
            let _ = writeln!(err, "warning: {}", shown(&mut redactor, &w.to_string()));
        }
        if args.stats {
            let _ = writeln!(
                err,
                "{}: {} ({}, {})",
                shown(&mut redactor, &report.path),
                report.format,
                counted(report.records, "record"),
                counted(report.bytes, "byte")
            );
        }
        if write_error.is_none() {
            let drained = match &mut redactor {
                Some(r) => lines.drain_redacted(out, r),
                None => lines.drain(out),
            };
            if let Err(e) = drained {
                write_error = Some(e);
            }
        }
        inputs.push(report);
    });
    if let Some(e) = write_error {
        return Err(e.into());
    }
    for w in &summary.warnings {
        let _ = writeln!(err, "warning: {}", shown(&mut redactor, &w.to_string()));
    }
    // Like `scan`: exit 2 with the same message when no input could be read.
    if let Some(e) = ScanError::if_nothing_read(&inputs, &summary) {
        let message = match &mut redactor {
            Some(r) => r.text(&e.to_string()),
            None => e.to_string(),
        };
        return Err(CliError::usage(message));
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_input_spills_to_a_temporary_file_and_keeps_its_order() {
        let mut lines = JsonLines::default();
        let mut n = 0u32;
        while lines.spill.is_none() || n < 40_000 {
            let mut e = Evidence::new("big.log", "generic-text", format!("line {n}"));
            e.excerpt = "x".repeat(200);
            lines.record(e);
            n += 1;
        }
        assert!(lines.buf.len() < IN_MEMORY, "memory held: {}", lines.buf.len());
        let mut out = Vec::new();
        lines.drain(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let locations: Vec<u32> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["location"].as_str().unwrap().trim_start_matches("line ").parse().unwrap()
            })
            .collect();
        assert_eq!(locations, (0..n).collect::<Vec<_>>());
    }
}

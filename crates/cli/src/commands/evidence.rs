//! `uctriage evidence PATH...`: the normalized records as JSON Lines.

use std::io::Write;

use uctriage_sources::{read, readers, Evidence, Options, Sink};

use crate::args::EvidenceArgs;
use crate::{CliError, Exit};

/// One input's records, already serialized, waiting for their turn to be written in input order.
#[derive(Default)]
struct JsonLines(Vec<u8>);

impl Sink for JsonLines {
    fn record(&mut self, e: Evidence) {
        if serde_json::to_writer(&mut self.0, &e).is_ok() {
            self.0.push(b'\n');
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
    let mut err = std::io::stderr();
    let mut write_error = None;
    let mut read_any = false;
    let summary = read(&args.paths, &opts, JsonLines::default, |report, lines| {
        read_any |= report.format != "unreadable";
        for w in &report.warnings {
            let _ = writeln!(err, "warning: {w}");
        }
        if args.stats {
            let _ = writeln!(
                err,
                "{}: {} ({} records, {} bytes)",
                report.path, report.format, report.records, report.bytes
            );
        }
        if write_error.is_none() {
            if let Err(e) = out.write_all(&lines.0) {
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e.into());
    }
    for w in &summary.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    if !read_any {
        return Err(CliError::usage("nothing could be read from the given paths"));
    }
    Ok(Exit::Ok)
}

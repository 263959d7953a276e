//! From what an admin already has to evidence records.
//!
//! [`read`] walks the [`Source`]s (files, folders, zip archives — nested —, standard input,
//! bytes in memory), detects each input's format by its content first and its name second, runs
//! the matching reader, and hands the records to a [`Sink`] per input. Inputs are read in
//! parallel; results come back in input order. A damaged input is a warning naming the file and
//! the place, never the end of the run.
//!
//! ```
//! use uctriage_sources::{read, Options, Source};
//! let dir = std::env::temp_dir().join("uctriage-doc-example");
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("paste.txt"), "sign-in failed: AADSTS50076 for the room").unwrap();
//! let pasted = Source::Bytes { name: "note.txt".into(), bytes: b"then 0xCAA70004 on the desktop"[..].into() };
//! let mut records = Vec::new();
//! read(&[Source::Path(dir), pasted], &Options::default(), Vec::new, |_, sink| records.extend(sink));
//! assert_eq!(records[0].codes[0].to_string(), "AADSTS50076");
//! assert_eq!(records[1].path, "note.txt");
//! ```

mod container;
pub mod input;
pub mod readers;
mod source;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
pub use uctriage_evidence::{Evidence, InputReport, InputStatus, Sink, Warning};

pub use container::Unit;
pub use input::Input;
pub use readers::{Emitter, Reader};
pub use source::Source;

/// Limits and switches for reading.
#[derive(Debug, Clone)]
pub struct Options {
    /// Total uncompressed bytes read from archives across the whole run. Each input also has its
    /// own budget, shared by the archives nested in it: its size times `max_ratio` (at least
    /// 16 MiB) of uncompressed bytes, and `max_zip_entries` entries.
    pub max_total_bytes: u64,
    /// Largest single zip entry read.
    pub max_entry_bytes: u64,
    /// Most zip entries read from one input, counting the archives nested in it.
    pub max_zip_entries: usize,
    /// Highest compression ratio accepted for entries over 1 MiB: an entry's own ratio times
    /// that of every archive it is nested in.
    pub max_ratio: u64,
    /// Deepest nesting of zips inside zips.
    pub max_zip_depth: usize,
    /// Largest temporary copy: of a zip nested in a zip (opened from the copy, never from
    /// memory), or of a zip or `.evtx` read from a stream (standard input, a FIFO), whose readers
    /// need to seek.
    pub max_spool_bytes: u64,
    /// Force a reader by format name instead of detecting.
    pub format: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_total_bytes: 16 * 1024 * 1024 * 1024,
            max_entry_bytes: 4 * 1024 * 1024 * 1024,
            max_zip_entries: 100_000,
            max_ratio: 200,
            max_zip_depth: 4,
            max_spool_bytes: 4 * 1024 * 1024 * 1024,
            format: None,
        }
    }
}

/// Totals of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
    /// Problems that belong to no single input (a folder that cannot be listed, a bad archive).
    pub warnings: Vec<Warning>,
}

/// Read every source. `make_sink` makes one sink per input; `done` receives each input's report
/// and sink, in input order.
pub fn read<S, M, D>(sources: &[Source], opts: &Options, make_sink: M, mut done: D) -> Summary
where
    S: Sink + Send,
    M: Fn() -> S + Sync,
    D: FnMut(InputReport, S),
{
    let budget = container::Budget::new(opts.max_total_bytes);
    let mut summary = Summary::default();
    let units = container::collect(sources, opts, &budget, &mut summary.warnings);
    let registry = readers::registry();
    // Inputs are processed in windows so that results can be handed over in order while memory
    // stays bounded by the window, not by the bundle.
    let window = rayon::current_num_threads().max(1) * 2;
    for batch in units.chunks(window) {
        // One input is read on the calling thread: handing it to the pool and waiting costs a
        // small input (a fleet server's batch) more than reading it.
        let results: Vec<(InputReport, S)> = if let [one] = batch {
            vec![read_unit(one, opts, &registry, make_sink())]
        } else {
            batch.par_iter().map(|u| read_unit(u, opts, &registry, make_sink())).collect()
        };
        for (report, sink) in results {
            summary.files += 1;
            summary.records += report.records;
            summary.bytes += report.bytes;
            done(report, sink);
        }
    }
    summary
}

/// Exports in which every part of an input is a record: when one of them gives none, and said
/// nothing, the input is reported. (An `.evtx` of a log with no events is normal in a bundle;
/// its reader warns itself when the file is cut short.)
const EVERY_RECORD: &[&str] =
    &["dr-csv", "call-records-json", "entra-signins", "event-csv", "event-json", "event-xml", "evidence-jsonl"];

fn read_unit<S: Sink>(unit: &Unit, opts: &Options, registry: &[Box<dyn Reader>], mut sink: S) -> (InputReport, S) {
    let mut report = InputReport {
        path: unit.path.clone(),
        format: "unreadable".into(),
        status: InputStatus::Unreadable,
        records: 0,
        bytes: unit.size.unwrap_or(0),
        warnings: Vec::new(),
    };
    let input = match container::open(unit, opts) {
        Ok(i) => i,
        Err(e) => {
            report.warnings.push(Warning {
                path: unit.path.clone(),
                place: String::new(),
                message: format!("cannot read: {e}"),
            });
            return (report, sink);
        }
    };
    let Some(reader) = readers::choose(registry, &input, opts.format.as_deref()) else {
        report.format = "unsupported".into();
        report.status = InputStatus::Unsupported;
        let what = if input.head.is_empty() { "empty file" } else { "binary data of no supported format" };
        report.warnings.push(Warning {
            path: unit.path.clone(),
            place: String::new(),
            message: format!("{what}: skipped"),
        });
        return (report, sink);
    };
    report.format = reader.format().to_owned();
    report.status = InputStatus::Read;
    let notes = input.notes.clone();
    let mut emitter = Emitter::new(&unit.path, reader.format(), &mut sink);
    let outcome = catch_unwind(AssertUnwindSafe(|| reader.read(input, &mut emitter)));
    let (records, mut warnings) = emitter.finish();
    report.records = records;
    if let Some(read) = unit.stream_bytes() {
        report.bytes = read;
    }
    if records == 0
        && warnings.is_empty()
        && outcome.as_ref().is_ok_and(Result::is_ok)
        && EVERY_RECORD.contains(&reader.format())
    {
        warnings.push(Warning {
            path: unit.path.clone(),
            place: String::new(),
            message: format!("the {} reader found no records in this input", reader.format()),
        });
    }
    // What decoding had to guess (an encoding, line ends) comes first: it explains what follows.
    report.warnings.extend(notes.take().into_iter().map(|(place, message)| Warning {
        path: unit.path.clone(),
        place,
        message,
    }));
    report.warnings.append(&mut warnings);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => report.warnings.push(Warning { path: unit.path.clone(), place: e.place, message: e.message }),
        Err(_) => report.warnings.push(Warning {
            path: unit.path.clone(),
            place: String::new(),
            message: format!("the {} reader failed on this input; what it read before is kept", reader.format()),
        }),
    }
    (report, sink)
}

/// Read bytes already in memory as if they were a file called `name`: the entry point for tests
/// and fuzzing. `format` forces a reader; `None` detects as for files.
pub fn read_bytes(name: &str, bytes: &[u8], format: Option<&str>) -> (InputReport, Vec<Evidence>) {
    let unit = Unit {
        path: name.to_owned(),
        name: name.to_owned(),
        size: Some(bytes.len() as u64),
        modified: None,
        origin: container::Origin::Memory(bytes.to_vec().into()),
    };
    let opts = Options { format: format.map(str::to_owned), ..Options::default() };
    let registry = readers::registry();
    read_unit(&unit, &opts, &registry, Vec::new())
}

//! The scan: read every source, judge the records, build the report.
//!
//! The command line (`uctriage scan`, `uctriage evidence`) and the server call these functions,
//! so a bundle gets the same diagnosis wherever it is sent. This crate does no network and no
//! storage: it takes sources and rules, and returns a [`ScanReport`].
//!
//! ```
//! use uctriage_scan::{scan, ScanOptions, Source};
//! let rules = uctriage_rules::RuleSet::builtin();
//! let pasted = Source::Bytes { name: "paste.txt".into(), bytes: b"sign-in failed: AADSTS50076"[..].into() };
//! let report = scan(&[pasted], &rules, &ScanOptions::default(), &mut |_, _| {}).unwrap();
//! assert_eq!(report.findings[0].codes[0].to_string(), "AADSTS50076");
//! ```

use std::fmt;
use std::time::Instant;

pub use uctriage_evidence::{Evidence, InputReport, InputStatus, Warning};
pub use uctriage_report::ScanReport;
pub use uctriage_rules::RuleSet;
pub use uctriage_sources::{Options as ReadOptions, Source, Summary};

use uctriage_evidence::Sink;
use uctriage_report::{Redactor, Stats};
use uctriage_rules::diagnose;

/// How to scan: the reading limits, and whether to redact personal data from the report.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub read: uctriage_sources::Options,
    /// Replace user names, addresses, IDs, tokens and phone numbers in the report (`--redact`).
    pub redact: bool,
}

/// Why a scan produced no report.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Nothing could be read; the warnings say why.
    #[error("{}", NothingReadable(warnings))]
    NothingReadable { warnings: Vec<Warning> },
}

/// The message of [`ScanError::NothingReadable`]: one line, then each warning on its own
/// indented line.
struct NothingReadable<'a>(&'a [Warning]);

impl fmt::Display for NothingReadable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing could be read from the given paths")?;
        for w in self.0 {
            write!(f, "\n  {w}")?;
        }
        Ok(())
    }
}

impl ScanError {
    /// The error when no input of a run was read, with every warning of the run (those of no
    /// single input first); `None` when at least one input was read.
    pub fn if_nothing_read(inputs: &[InputReport], summary: &Summary) -> Option<ScanError> {
        if inputs.iter().any(InputReport::is_read) {
            return None;
        }
        let warnings = summary.warnings.iter().chain(inputs.iter().flat_map(|i| i.warnings.iter())).cloned().collect();
        Some(ScanError::NothingReadable { warnings })
    }
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Values of a record's fields that name someone or something ([`uctriage_report::redact::named_field`]),
/// gathered while reading when the report is to be redacted: the redactor learns them before it
/// redacts, so a display name or a room alias is replaced wherever the report quotes it.
struct Learning<'k, S> {
    inner: S,
    redact: bool,
    names: Vec<(&'static str, String)>,
    seen: std::collections::HashSet<String>,
    /// Records to hand back beside the report, and how many at most.
    keep: Option<&'k Keep<'k>>,
    kept: Vec<Evidence>,
}

/// Named values kept per input; more are not learned (their fields are still redacted whole in
/// `evidence --redact`, and patterns still apply).
const NAMES_PER_INPUT: usize = 4096;

impl<S: Sink> Sink for Learning<'_, S> {
    fn record(&mut self, e: Evidence) {
        if let Some(keep) = self.keep {
            if self.kept.len() < keep.most && (keep.wanted)(&e) {
                self.kept.push(e.clone());
            }
        }
        if self.redact && self.names.len() < NAMES_PER_INPUT {
            for (k, v) in &e.fields {
                let Some(kind) = uctriage_report::redact::named_field(k) else { continue };
                let mut values = Vec::new();
                match v {
                    serde_json::Value::String(s) => values.push(s.as_str()),
                    serde_json::Value::Array(a) => values.extend(a.iter().filter_map(serde_json::Value::as_str)),
                    _ => {}
                }
                for s in values {
                    if self.names.len() < NAMES_PER_INPUT && self.seen.insert(s.to_owned()) {
                        self.names.push((kind, s.to_owned()));
                    }
                }
            }
        }
        self.inner.record(e);
    }
}

/// Read every source, diagnose, build the report. `progress` is called once per input, in input
/// order, with that input's report and the total records read so far.
///
/// Each input is matched against the rules as it is read (a collector per input, in the reader
/// threads), so memory stays bounded by the inputs being read, not by the bundle.
pub fn scan(
    sources: &[Source],
    rules: &RuleSet,
    opts: &ScanOptions,
    progress: &mut dyn FnMut(&InputReport, u64),
) -> Result<ScanReport, ScanError> {
    let (mut report, names, _) = scan_learning(sources, rules, opts, opts.redact, None, progress)?;
    if opts.redact {
        report.redact(&mut redactor(&names));
    }
    Ok(report)
}

/// Which records a reading hands back beside its report: those `wanted` says yes to, in input
/// order, `most` at most.
pub struct Keep<'a> {
    pub wanted: &'a (dyn Fn(&Evidence) -> bool + Sync),
    pub most: usize,
}

impl fmt::Debug for Keep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keep").field("most", &self.most).finish_non_exhaustive()
    }
}

/// What [`scan_whole_and_redacted`] gives.
#[derive(Debug)]
pub struct Scanned {
    /// The report, not redacted.
    pub whole: ScanReport,
    /// The same report redacted as `--redact` gives it.
    pub redacted: ScanReport,
    /// The records [`Keep`] asked for.
    pub kept: Vec<Evidence>,
}

/// [`scan`] once for two readers: the whole report, and the same report redacted as `--redact`
/// gives it (the names learned while reading included), for a server that shows either; and,
/// from the same reading, the records `keep` asks for (the server files an upload's room records).
pub fn scan_whole_and_redacted(
    sources: &[Source],
    rules: &RuleSet,
    opts: &ScanOptions,
    keep: &Keep<'_>,
    progress: &mut dyn FnMut(&InputReport, u64),
) -> Result<Scanned, ScanError> {
    let (whole, names, kept) = scan_learning(sources, rules, opts, true, Some(keep), progress)?;
    let mut redacted = whole.clone();
    redacted.redact(&mut redactor(&names));
    Ok(Scanned { whole, redacted, kept })
}

/// Values read from named fields, with the kind of name each is.
type LearnedNames = Vec<(&'static str, String)>;

fn redactor(names: &[(&'static str, String)]) -> Redactor {
    let mut r = Redactor::new();
    for (kind, value) in names {
        r.name(kind, value);
    }
    r
}

/// The report, not redacted, the named values read when `learn` is set, and the records `keep`
/// asks for.
fn scan_learning(
    sources: &[Source],
    rules: &RuleSet,
    opts: &ScanOptions,
    learn: bool,
    keep: Option<&Keep<'_>>,
    progress: &mut dyn FnMut(&InputReport, u64),
) -> Result<(ScanReport, LearnedNames, Vec<Evidence>), ScanError> {
    let started = Instant::now();
    let mut total = rules.collector();
    let mut inputs: Vec<InputReport> = Vec::new();
    let mut records = 0u64;
    let mut names = Vec::new();
    let mut kept = Vec::new();
    let summary = uctriage_sources::read(
        sources,
        &opts.read,
        || Learning {
            inner: rules.collector(),
            redact: learn,
            names: Vec::new(),
            seen: std::collections::HashSet::new(),
            keep,
            kept: Vec::new(),
        },
        |report, learning| {
            total.merge(learning.inner);
            names.extend(learning.names);
            let room = keep.map_or(0, |k| k.most.saturating_sub(kept.len()));
            kept.extend(learning.kept.into_iter().take(room));
            records += report.records;
            progress(&report, records);
            inputs.push(report);
        },
    );
    if let Some(e) = ScanError::if_nothing_read(&inputs, &summary) {
        return Err(e);
    }
    let diagnosis = diagnose(total);
    let stats = Stats {
        files: summary.files,
        records: summary.records,
        bytes: summary.bytes,
        elapsed_ms: millis_since(started),
    };
    Ok((ScanReport::new(&inputs, &summary.warnings, diagnosis, stats), names, kept))
}

/// The diagnosis of records already read (the server keeps records and judges a room's recent
/// ones). `inputs` are listed in the report as given; stats.records = number of records.
///
/// `stats.files` is the number of inputs and `stats.bytes` their bytes; the report has no
/// run-wide warnings (those belong to the reading, which happened elsewhere). The report is not
/// redacted: call [`ScanReport::redact`] when that is wanted.
pub fn diagnose_records(
    records: impl IntoIterator<Item = Evidence>,
    inputs: &[InputReport],
    rules: &RuleSet,
) -> ScanReport {
    let started = Instant::now();
    let mut collector = rules.collector();
    let mut count = 0u64;
    for e in records {
        count += 1;
        collector.record(e);
    }
    let diagnosis = diagnose(collector);
    let stats = Stats {
        files: inputs.len() as u64,
        records: count,
        bytes: inputs.iter().map(|i| i.bytes).sum(),
        elapsed_ms: millis_since(started),
    };
    ScanReport::new(inputs, &[], diagnosis, stats)
}

/// Read sources into records without judging them (the server's ingest; `uctriage evidence`).
/// `each` receives every input's report and records, in input order.
///
/// An input's records are handed over whole, so a very large single input is held in memory
/// once; `uctriage evidence` streams instead, through [`uctriage_sources::read`] with a sink of
/// its own.
pub fn read_records(
    sources: &[Source],
    opts: &ReadOptions,
    each: &mut dyn FnMut(InputReport, Vec<Evidence>),
) -> Summary {
    uctriage_sources::read(sources, opts, Vec::new, each)
}

//! Sources tests: containers and every reader, over fixtures written or generated here.
//! One test binary; one module per reader family.

mod clients;
mod containers;
mod evidence_jsonl;
mod exports;
mod pasted;
mod pexip;
mod telephony;
mod windows;

use std::path::PathBuf;

use uctriage_sources::{read, Evidence, InputReport, Options, Source};

/// A fixture file under `crates/sources/tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// `../shared/corpus` beside the repository, when present (CI has it).
pub fn corpus() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.is_dir().then_some(p)
}

/// Read paths; return the per-input reports and all records in order.
pub fn read_paths(paths: &[PathBuf]) -> (Vec<InputReport>, Vec<Evidence>) {
    let sources: Vec<Source> = paths.iter().cloned().map(Source::Path).collect();
    let mut reports = Vec::new();
    let mut records = Vec::new();
    read(&sources, &Options::default(), Vec::new, |r, s| {
        reports.push(r);
        records.extend(s);
    });
    (reports, records)
}

/// Records as JSON Lines with the machine-specific part of paths removed, for snapshots.
pub fn jsonl(records: &[Evidence]) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").display().to_string();
    records
        .iter()
        .map(|e| serde_json::to_string(e).unwrap().replace(&root, "<fixtures>"))
        .collect::<Vec<_>>()
        .join("\n")
}

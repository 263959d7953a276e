//! Knowledge-base tests: integrity of the data files, coverage of the seeds and reference lists,
//! normalization of every contract spelling, and structural decode. One test binary.
#![allow(clippy::print_stderr)]

mod coverage;
mod decode;
mod extract;
mod integrity;
mod normalize;

use std::path::PathBuf;

/// `../shared` beside the repository (CI has it; a plain clone may not). Override with UCTRIAGE_SHARED.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("UCTRIAGE_SHARED")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"), PathBuf::from);
    dir.join("reference").is_dir().then_some(dir)
}

/// Rows of a reference TSV file, split on tabs, header skipped when `header` is true.
pub fn tsv(path: &std::path::Path, header: bool) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

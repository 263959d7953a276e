//! Reader throughput: how many bytes of each kind of input become evidence records per second.
//!
//! The inputs are one room's share of the generated large bundle (`uctriage_fixtures::large`):
//! a Skype Room System and an AAD event log, the Teams Rooms app log, an SBC syslog and a sign-in
//! CSV export, written once per run to a temporary folder. The `.evtx` reader splits its chunks
//! over the rayon pool, as it does in a scan. Run with `cargo bench -p uctriage-sources`; figures
//! are in docs/benchmarks.md, beside `scripts/bench.sh` which measures whole runs.

use std::path::Path;
use std::sync::OnceLock;

use divan::counter::BytesCount;

fn main() {
    let _ = inputs();
    divan::main();
}

/// Bytes per unit: about 8 MB across the five files.
const UNIT: u64 = 8 * 1024 * 1024;

/// The benchmarked inputs, by the end of their file name.
const KINDS: &[&str] = &["Skype Room System.evtx", "AAD_Operational.evtx", "Teams/Logs.txt", "_syslog", "SignIns"];

struct Sample {
    kind: &'static str,
    name: String,
    bytes: Vec<u8>,
}

fn inputs() -> &'static [Sample] {
    static INPUTS: OnceLock<Vec<Sample>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        uctriage_fixtures::large::large_unit(UNIT, dir.path()).expect("the bench inputs are written");
        let mut files = Vec::new();
        walk(dir.path(), &mut files);
        KINDS
            .iter()
            .map(|kind| {
                let path = files
                    .iter()
                    .find(|p| p.replace('\\', "/").contains(kind))
                    .unwrap_or_else(|| panic!("no {kind} input"));
                Sample { kind, name: path.clone(), bytes: std::fs::read(path).expect("readable input") }
            })
            .collect()
    })
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("listable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path.to_string_lossy().into_owned());
        }
    }
}

#[divan::bench(args = KINDS, sample_count = 10, sample_size = 1)]
fn read(b: divan::Bencher, kind: &str) {
    let sample = inputs().iter().find(|s| s.kind == kind).expect("a sample of each kind");
    b.counter(BytesCount::new(sample.bytes.len())).bench(|| {
        let (report, records) = uctriage_sources::read_bytes(&sample.name, divan::black_box(&sample.bytes), None);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        records.len()
    });
}

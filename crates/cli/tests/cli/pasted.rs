//! The pasted snippets of `tests/pasted/`: every code the manifest expects is found, and no code
//! it lists under `absent` is reported. `scripts/accuracy.sh` measures the same set as a share.

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    snippet: Vec<Snippet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snippet {
    file: String,
    class: String,
    /// `scan` (standard input, the default), `text` (`scan --text`) or `explain`.
    #[serde(default)]
    mode: Option<String>,
    expect: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
}

/// The classes of issue 13, part 1: each must have cases.
const CLASSES: &[&str] = &["prose", "nested", "unknown", "wide", "passport", "oauth", "sip", "http", "paste"];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/pasted")
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(dir().join("manifest.toml")).expect("tests/pasted/manifest.toml");
    toml::from_str(&text).expect("the manifest parses")
}

/// The codes the binary reports for a snippet.
fn found(s: &Snippet, text: &str) -> BTreeSet<String> {
    let mut cmd = Command::cargo_bin("uctriage").expect("binary builds");
    cmd.env("NO_COLOR", "1");
    match s.mode.as_deref().unwrap_or("scan") {
        "explain" => {
            let out = cmd.args(["explain", "--format", "json", text.trim()]).output().expect("runs");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("explain answers JSON");
            return v
                .as_array()
                .expect("an array of answers")
                .iter()
                .filter_map(|a| a["code"].as_str().map(str::to_owned))
                .collect();
        }
        "text" => {
            cmd.args(["scan", "--format", "json", "-q", "--text", text]);
        }
        "scan" => {
            cmd.args(["scan", "--format", "json", "-q", "-"]).write_stdin(text);
        }
        other => panic!("{}: unknown mode {other}", s.file),
    }
    let out = cmd.output().expect("runs");
    assert_ne!(out.status.code(), Some(2), "{}: {}", s.file, String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", s.file, String::from_utf8_lossy(&out.stdout)));
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|f| f["codes"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_class_has_cases_and_every_file_is_listed() {
    let m = manifest();
    assert!(m.snippet.len() >= 60, "{} snippets", m.snippet.len());
    for class in CLASSES {
        let n = m.snippet.iter().filter(|s| s.class == *class).count();
        assert!(n >= 4, "class {class} has {n} snippets");
    }
    for s in &m.snippet {
        assert!(CLASSES.contains(&s.class.as_str()), "{}: unknown class {}", s.file, s.class);
        for c in s.expect.iter().chain(&s.absent) {
            assert!(c.parse::<uctriage_kb::Code>().is_ok(), "{}: {c} is not a canonical code", s.file);
        }
    }
    let listed: BTreeSet<&str> = m.snippet.iter().map(|s| s.file.as_str()).collect();
    for entry in std::fs::read_dir(dir()).expect("tests/pasted") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if std::path::Path::new(&name).extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")) {
            assert!(listed.contains(name.as_str()), "{name} is not in the manifest");
        }
    }
}

#[test]
fn every_expected_code_is_found_in_the_pasted_snippets() {
    let m = manifest();
    // One process per snippet, a few at a time (a debug binary takes a second or two to start).
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(s) = m.snippet.get(i) else { break };
                let text = std::fs::read_to_string(dir().join(&s.file)).expect("snippet file");
                let found = found(s, &text);
                let mut problems = Vec::new();
                for c in &s.expect {
                    if !found.contains(c) {
                        problems.push(format!("{} ({}): {c} not found; found {found:?}", s.file, s.class));
                    }
                }
                for c in &s.absent {
                    if found.contains(c) {
                        problems.push(format!("{} ({}): {c} reported but not in the snippet", s.file, s.class));
                    }
                }
                failures.lock().expect("no thread panicked").extend(problems);
            });
        }
    });
    let mut failures = failures.into_inner().expect("no thread panicked");
    failures.sort();
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

//! Compiles every `data/*.toml` rule file into the crate, so adding a rule file needs no code change.
//!
//! Each file is also written as JSON, which the crate reads at start-up in a fraction of the time
//! TOML takes (the TOML stays the source of truth; a test checks both give the same rules). When
//! a file is not valid TOML no JSON is written and the crate parses the TOML, reporting why.
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("data");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("crates/rules/data exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut out = String::from("/// The rule files compiled into the binary: (file name, contents).\npub(crate) static FILES: &[(&str, &str)] = &[\n");
    let mut json = String::from("&[\n");
    let mut all_json = true;
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        let _ = writeln!(out, "    ({name:?}, include_str!({:?})),", f.display().to_string());
        let text = std::fs::read_to_string(f).expect("rule files are readable UTF-8");
        match toml::from_str::<toml::Value>(&text).ok().and_then(|v| serde_json::to_string(&v).ok()) {
            Some(j) => {
                let path = out_dir.join(format!("{name}.json"));
                std::fs::write(&path, j).expect("write to OUT_DIR");
                let _ = writeln!(json, "    ({name:?}, include_str!({:?})),", path.display().to_string());
            }
            None => all_json = false,
        }
    }
    out.push_str("];\n");
    json.push(']');
    out.push_str("\n/// The same files as JSON, in the same order (`None` when one is not valid TOML).\n");
    let _ = writeln!(
        out,
        "pub(crate) static JSON: Option<&[(&str, &str)]> = {};",
        if all_json { format!("Some({json})") } else { "None".to_owned() }
    );
    let dest = out_dir.join("rule_files.rs");
    std::fs::write(dest, out).expect("write rule_files.rs");
}

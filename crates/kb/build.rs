//! Compiles every `data/*.toml` file into the crate, so adding a knowledge file needs no code change.
//!
//! The files are also parsed and checked here, with the crate's own parser, and what start-up
//! needs from them is written ahead of time: the entries in a packed form (`src/packed.rs`) and
//! the code extractor's prefilter automaton (`src/words.rs`, `src/table.rs`). The TOML files stay
//! the source of truth; when they do not load, nothing is written ahead and the crate parses
//! them at run time, where its tests report what is wrong.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "src/code.rs"]
mod code;
#[allow(dead_code)]
#[path = "src/entry.rs"]
mod entry;
#[allow(dead_code)]
#[path = "src/packed.rs"]
mod packed;
#[allow(dead_code)]
#[path = "src/table.rs"]
mod table;
#[allow(dead_code)]
#[path = "src/words.rs"]
mod words;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = root.join("data");
    println!("cargo:rerun-if-changed={}", dir.display());
    for shared in ["build.rs", "src/code.rs", "src/entry.rs", "src/packed.rs", "src/table.rs", "src/words.rs"] {
        println!("cargo:rerun-if-changed={}", root.join(shared).display());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("crates/kb/data exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut out = String::from("/// The knowledge files compiled into the binary: (file name, contents).\npub(crate) static FILES: &[(&str, &str)] = &[\n");
    let mut texts: Vec<(String, String)> = Vec::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        let _ = writeln!(out, "    ({name:?}, include_str!({:?})),", f.display().to_string());
        texts.push((name.to_owned(), std::fs::read_to_string(f).expect("knowledge files are readable UTF-8")));
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("kb_files.rs"), out).expect("write kb_files.rs");
    std::fs::write(out_dir.join("kb_built.rs"), ahead_of_time(&texts, &out_dir)).expect("write kb_built.rs");
}

/// The source of `kb_built.rs`: the packed entries and the prefilter, or `None` for both when
/// the files do not load (or the automaton does not fit its table).
fn ahead_of_time(texts: &[(String, String)], out_dir: &Path) -> String {
    let none = "pub(crate) const PACKED: Option<(&str, &[u8])> = None;\n\
                pub(crate) static PREFILTER: Option<Prefilter> = None;\n"
        .to_owned();
    let Ok(entries) = entry::load_entries(texts.iter().map(|(n, t)| (n.as_str(), t.as_str()))) else {
        return none;
    };
    let context = words::context_words();
    let tokens = words::tokens(&entries);
    let list = words::prefilter_words(&entries, &context, &tokens);
    let Some(table) = table::Table::build(&list.words) else {
        return none;
    };
    let packed = packed::pack(&entries);
    let write = |name: &str, bytes: &[u8]| {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).expect("write to OUT_DIR");
        path.display().to_string()
    };
    let text_path = write("kb_entries.txt", packed.text.as_bytes());
    let numbers_path = write("kb_entries.bin", &packed.numbers);
    let transitions_path = write("kb_prefilter.bin", &table.transitions);
    let numbers = |v: &mut String, items: &mut dyn Iterator<Item = u64>| {
        v.push('[');
        for (i, n) in items.enumerate() {
            if i > 0 {
                v.push(',');
            }
            let _ = write!(v, "{n}");
        }
        v.push(']');
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "pub(crate) const PACKED: Option<(&str, &[u8])> = Some((include_str!({text_path:?}), include_bytes!({numbers_path:?})));"
    );
    s.push_str("pub(crate) static PREFILTER: Option<Prefilter> = Some(Prefilter {\n    columns: &");
    numbers(&mut s, &mut table.columns.iter().map(|&c| u64::from(c)));
    let _ = write!(
        s,
        ",\n    transitions: include_bytes!({transitions_path:?}),\n    start: {},\n    max_match: {},\n    reports: &",
        table.start, table.max_match
    );
    numbers(&mut s, &mut table.reports.iter().map(|&r| u64::from(r)));
    s.push_str(",\n    wants: &");
    numbers(&mut s, &mut list.wants.iter().map(|&w| u64::from(w)));
    s.push_str(",\n    alias_entry: &");
    numbers(&mut s, &mut list.alias_entry.iter().map(|a| a.map_or(u64::from(u32::MAX), |a| a as u64)));
    let _ = writeln!(s, ",\n    fingerprint: {},\n}});", list.fingerprint());
    s
}

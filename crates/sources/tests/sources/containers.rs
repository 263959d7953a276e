//! Containers: folders, zips (nested, hostile), stdin-like bytes, junk.

use std::io::Write;

use uctriage_sources::{read_bytes, InputStatus, Options, Source};

use crate::read_paths;

pub(crate) fn zip_of(entries: &[(&str, &[u8], zip::CompressionMethod)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, data, method) in entries {
            z.start_file(*name, zip::write::SimpleFileOptions::default().compression_method(*method)).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn tmp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("uctriage-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn nested_zip_with_backslash_and_traversal_names_is_read_in_memory() {
    let inner = zip_of(&[("App\\Microsoft\\Teams\\Logs.txt", b"x AADSTS50126 y", zip::CompressionMethod::Deflated)]);
    let outer = zip_of(&[
        ("../../etc/evil.txt", b"0xCAA70004", zip::CompressionMethod::Stored),
        ("/abs/name.txt", b"SIP/2.0 403 Forbidden", zip::CompressionMethod::Deflated),
        ("inner.zip", &inner, zip::CompressionMethod::Stored),
    ]);
    let p = tmp("bundle.zip", &outer);
    let (reports, records) = read_paths(std::slice::from_ref(&p));
    let paths: Vec<&str> =
        reports.iter().map(|r| r.path.rsplit_once(".zip!").map_or(r.path.as_str(), |(_, b)| b)).collect();
    assert_eq!(paths, ["../../etc/evil.txt", "/abs/name.txt", "App/Microsoft/Teams/Logs.txt"]);
    let codes: Vec<String> = records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect();
    assert_eq!(codes, ["0xCAA70004", "SIP 403", "AADSTS50126"]);
    assert!(records[2].path.contains("bundle.zip!inner.zip!App/Microsoft/Teams/Logs.txt"), "{}", records[2].path);
    // Nothing was written next to the archive.
    assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn zip_bomb_by_ratio_is_refused_with_a_warning() {
    let zeros = vec![0u8; 50 * 1024 * 1024];
    let bomb = zip_of(&[
        ("big.log", &zeros, zip::CompressionMethod::Deflated),
        ("ok.txt", b"AADSTS50076", zip::CompressionMethod::Stored),
    ]);
    let p = tmp("bomb.zip", &bomb);
    let mut records = Vec::new();
    let summary = uctriage_sources::read(&[Source::Path(p)], &Options::default(), Vec::new, |_, s| records.extend(s));
    assert_eq!(records.len(), 1);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.message.contains("compression ratio") && w.path.ends_with("bomb.zip!big.log")),
        "{:?}",
        summary.warnings
    );
}

#[test]
fn bytes_budget_stops_a_lying_archive() {
    let data = vec![b'a'; 2 * 1024 * 1024];
    let z = zip_of(&[("a.txt", &data, zip::CompressionMethod::Stored)]);
    let p = tmp("budget.zip", &z);
    let opts = Options { max_total_bytes: 1024 * 1024, ..Options::default() };
    let mut warnings = Vec::new();
    uctriage_sources::read(&[Source::Path(p)], &opts, Vec::new, |r, _| warnings.extend(r.warnings));
    assert!(warnings.iter().any(|w| w.message.contains("total uncompressed size limit")), "{warnings:?}");
}

#[test]
fn junk_truncated_and_empty_inputs_are_warnings_not_failures() {
    let (r, e) = read_bytes("junk.bin", &[0, 1, 2, 3, 0xff, 0xfe, 0, 0, 7, 9, 200, 100], None);
    assert_eq!((r.format.as_str(), &r.status), ("unsupported", &InputStatus::Unsupported));
    assert!(e.is_empty());
    let (r, _) = read_bytes("empty.txt", b"", None);
    assert!(!r.warnings.is_empty());
    // Cut inside the central directory: the entry before the cut is still read (see
    // exports.rs for archives cut inside an entry).
    let z = zip_of(&[("a.txt", b"AADSTS50076", zip::CompressionMethod::Deflated)]);
    let p = tmp("truncated.zip", &z[..z.len() / 2]);
    let (reports, records) = read_paths(&[p]);
    assert_eq!(reports.len(), 1);
    assert_eq!(records[0].codes[0].to_string(), "AADSTS50076");
    // Cut inside the entry's header: nothing to read, and no failure.
    let p = tmp("header-cut.zip", &z[..20]);
    let (reports, _) = read_paths(&[p]);
    assert!(reports.is_empty());
}

#[test]
fn bytes_in_memory_are_read_like_a_file_of_that_name() {
    let inner = zip_of(&[("Logs.txt", b"x AADSTS50126 y", zip::CompressionMethod::Deflated)]);
    let outer = zip_of(&[
        ("inner.zip", &inner, zip::CompressionMethod::Stored),
        ("notes.txt", b"SIP/2.0 403 Forbidden", zip::CompressionMethod::Deflated),
    ]);
    let sources = [
        Source::Bytes { name: "upload.zip".into(), bytes: outer.into() },
        Source::Bytes { name: "paste.txt".into(), bytes: b"0xCAA70004"[..].into() },
    ];
    let mut reports = Vec::new();
    let mut records = Vec::new();
    uctriage_sources::read(&sources, &Options::default(), Vec::new, |r, s| {
        reports.push(r);
        records.extend(s);
    });
    let paths: Vec<&str> = reports.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["upload.zip!inner.zip!Logs.txt", "upload.zip!notes.txt", "paste.txt"]);
    assert!(reports.iter().all(|r| r.status == InputStatus::Read), "{reports:?}");
    let codes: Vec<String> = records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect();
    assert_eq!(codes, ["AADSTS50126", "SIP 403", "0xCAA70004"]);
}

#[test]
fn bytes_in_memory_keep_the_zip_guards() {
    let zeros = vec![0u8; 50 * 1024 * 1024];
    let bomb = zip_of(&[("big.log", &zeros, zip::CompressionMethod::Deflated)]);
    let mut deep = zip_of(&[("a.txt", b"AADSTS50076", zip::CompressionMethod::Stored)]);
    for _ in 0..6 {
        deep = zip_of(&[("next.zip", &deep, zip::CompressionMethod::Stored)]);
    }
    let sources = [
        Source::Bytes { name: "bomb.zip".into(), bytes: bomb.into() },
        Source::Bytes { name: "deep.zip".into(), bytes: deep.into() },
    ];
    let mut records = Vec::new();
    let summary = uctriage_sources::read(&sources, &Options::default(), Vec::new, |_, s| records.extend(s));
    assert!(records.is_empty(), "{records:?}");
    let messages: Vec<&str> = summary.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("compression ratio")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("nested deeper")), "{messages:?}");
}

#[test]
fn an_archive_cannot_make_more_work_than_its_size_justifies() {
    // Entries of 1 MiB pass the per-entry ratio check however well they compress; together they
    // must stay within the input's own limit (its size times the highest ratio, at least 16 MiB).
    let mib = format!("{}\n", " ".repeat(1023)).repeat(1024).into_bytes();
    let names: Vec<String> = (0..24).map(|i| format!("logs/{i:02}.log")).collect();
    let entries: Vec<(&str, &[u8], zip::CompressionMethod)> =
        names.iter().map(|n| (n.as_str(), &mib[..], zip::CompressionMethod::Deflated)).collect();
    let z = zip_of(&entries);
    assert!(z.len() < 200 * 1024, "{}", z.len());
    let p = tmp("many-small-bombs.zip", &z);
    let mut inputs = 0;
    let summary = uctriage_sources::read(&[Source::Path(p)], &Options::default(), Vec::new, |_, _| inputs += 1);
    assert!((10..24).contains(&inputs), "{inputs} entries read");
    assert!(
        summary.warnings.iter().any(|w| w.path.ends_with("many-small-bombs.zip")
            && w.message.contains("are not read")
            && w.message.contains("this input's limit")),
        "{:?}",
        summary.warnings
    );
}

/// Read `sources` with `opts`: the paths of the inputs read, and every warning (the run's and
/// the inputs').
fn read_with(sources: &[Source], opts: &Options) -> (Vec<String>, Vec<uctriage_sources::Warning>) {
    let mut paths = Vec::new();
    let mut warnings = Vec::new();
    let summary = uctriage_sources::read(sources, opts, Vec::new, |r, _| {
        paths.push(r.path.clone());
        warnings.extend(r.warnings);
    });
    warnings.extend(summary.warnings);
    (paths, warnings)
}

#[test]
fn nested_archives_share_one_entry_budget() {
    let logs: Vec<(String, Vec<u8>)> =
        (0..6).map(|i| (format!("logs/{i}.log"), format!("line {i}: AADSTS50076\n").into_bytes())).collect();
    let entries: Vec<(&str, &[u8], zip::CompressionMethod)> =
        logs.iter().map(|(n, d)| (n.as_str(), d.as_slice(), zip::CompressionMethod::Deflated)).collect();
    let inner = zip_of(&entries);
    let mut outer_entries = entries.clone();
    outer_entries.push(("inner.zip", &inner, zip::CompressionMethod::Stored));
    let outer = zip_of(&outer_entries);
    // Each archive alone is within a limit of 10 entries; together (13) they are not.
    let opts = Options { max_zip_entries: 10, ..Options::default() };
    let (alone, warnings) = read_with(&[Source::Bytes { name: "inner.zip".into(), bytes: inner.into() }], &opts);
    assert_eq!((alone.len(), warnings.len()), (6, 0), "{warnings:?}");
    let (paths, warnings) = read_with(&[Source::Bytes { name: "outer.zip".into(), bytes: outer.into() }], &opts);
    // The outer archive spends 7 (its 6 logs and inner.zip), the nested one gets the 3 left.
    assert_eq!(paths.len(), 9, "{paths:?}");
    assert!(
        warnings.iter().any(|w| w.path == "outer.zip!inner.zip"
            && w.message.contains("only the first 3 are read")
            && w.message.contains("nested in it included")),
        "{warnings:?}"
    );
}

fn lines_100_to_1() -> Vec<u8> {
    uctriage_fixtures::large::compressible_lines("beat").into_bytes()
}

/// A nested bomb whose levels each pass the ratio limit: 8 logs at about 90:1 in a zip that
/// the outer archive deflates about 8:1 (the copies repeat). Together each log is about 700:1.
pub(crate) fn nested_ratio_bomb() -> (Vec<u8>, Vec<u8>) {
    let leaf = lines_100_to_1();
    let names: Vec<String> = (0..8).map(|i| format!("logs/{i}.log")).collect();
    let entries: Vec<(&str, &[u8], zip::CompressionMethod)> =
        names.iter().map(|n| (n.as_str(), &leaf[..], zip::CompressionMethod::Deflated)).collect();
    let mid = zip_of(&entries);
    let outer = zip_of(&[("mid.zip", &mid, zip::CompressionMethod::Deflated)]);
    (mid, outer)
}

#[test]
fn compression_ratio_is_counted_across_levels() {
    let (mid, outer) = nested_ratio_bomb();
    let opts = Options::default();
    // Alone, the middle archive is read whole and quietly.
    let (alone, warnings) = read_with(&[Source::Bytes { name: "mid.zip".into(), bytes: mid.into() }], &opts);
    assert_eq!((alone.len(), warnings.len()), (8, 0), "{warnings:?}");
    // Nested, none of its logs is read: each is refused for the ratio counted across levels.
    let p = tmp("ratio-bomb.zip", &outer);
    let (paths, warnings) = read_with(&[Source::Path(p)], &opts);
    assert!(paths.is_empty(), "{paths:?}");
    let refused = warnings
        .iter()
        .filter(|w| w.path.contains("ratio-bomb.zip!mid.zip!logs/"))
        .filter(|w| w.message.contains("compression ratio") && w.message.contains("counting the archives"))
        .count();
    assert_eq!(refused, 8, "{warnings:?}");
}

#[test]
fn nested_zip_over_the_temporary_copy_limit_is_not_opened() {
    let noise: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let inner = zip_of(&[
        ("noise.bin", &noise, zip::CompressionMethod::Stored),
        ("a.log", b"AADSTS50076", zip::CompressionMethod::Stored),
    ]);
    let outer = zip_of(&[
        ("inner.zip", &inner, zip::CompressionMethod::Stored),
        ("b.log", b"AADSTS50126", zip::CompressionMethod::Stored),
    ]);
    let opts = Options { max_spool_bytes: 100_000, ..Options::default() };
    let (paths, warnings) = read_with(&[Source::Bytes { name: "outer.zip".into(), bytes: outer.into() }], &opts);
    assert_eq!(paths, ["outer.zip!b.log"]);
    assert!(
        warnings.iter().any(|w| w.path == "outer.zip!inner.zip" && w.message.contains("larger than 100000 bytes")),
        "{warnings:?}"
    );
}

fn mkfifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let ok = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs").success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Write `bytes` into the FIFO at `path` from a thread (the write end opens once a reader does).
fn feed(path: &std::path::Path, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // A reader that stops early closes the pipe: the write then fails, which is fine here.
        let _ = std::fs::OpenOptions::new().write(true).open(&path).and_then(|mut f| f.write_all(&bytes));
    })
}

#[test]
fn a_zip_read_from_a_stream_is_copied_to_a_temporary_file_within_a_limit() {
    let dir = std::env::temp_dir().join(format!("uctriage-test-{}-stream-zip", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("bundle");
    let inner = zip_of(&[("Logs.txt", b"x AADSTS50126 y", zip::CompressionMethod::Deflated)]);
    let bundle = zip_of(&[
        ("a.log", b"0xCAA70004", zip::CompressionMethod::Deflated),
        ("inner.zip", &inner, zip::CompressionMethod::Stored),
    ]);
    mkfifo(&fifo);
    let writer = feed(&fifo, bundle.clone());
    let (paths, warnings) = read_with(&[Source::Path(fifo.clone())], &Options::default());
    writer.join().unwrap();
    let shown = fifo.display().to_string();
    assert_eq!(paths, [format!("{shown}!a.log"), format!("{shown}!inner.zip!Logs.txt")], "{warnings:?}");
    // Over the limit: a warning naming the stream and the place, nothing read.
    mkfifo(&fifo);
    let writer = feed(&fifo, bundle);
    let opts = Options { max_spool_bytes: 100, ..Options::default() };
    let (paths, warnings) = read_with(&[Source::Path(fifo.clone())], &opts);
    writer.join().unwrap();
    assert!(paths.is_empty(), "{paths:?}");
    assert!(
        warnings.iter().any(|w| w.path == shown
            && w.place == "byte 100"
            && w.message.contains("zip archive read from a stream")
            && w.message.contains("save it to a file")),
        "{warnings:?}"
    );
}

#[test]
fn a_log_read_from_a_stream_gives_what_the_file_gives() {
    let dir = std::env::temp_dir().join(format!("uctriage-test-{}-stream-log", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = crate::fixture("teams-log/rooms/App/Microsoft/Teams/Logs.txt");
    let bytes = std::fs::read(&log).unwrap().repeat(3000);
    let from_file_len = bytes.len() as u64;
    let file = dir.join("Logs.txt");
    std::fs::write(&file, &bytes).unwrap();
    let fifo = dir.join("Logs-pipe.txt");
    mkfifo(&fifo);
    let writer = feed(&fifo, bytes);
    let (_, from_file) = read_paths(&[file]);
    let (reports, from_stream) = read_paths(&[fifo]);
    writer.join().unwrap();
    assert_eq!(reports[0].format, "teams-log");
    assert_eq!(reports[0].bytes, from_file_len, "the bytes read from the stream");
    assert_eq!(from_stream.len(), from_file.len());
    let strip = |records: &[uctriage_sources::Evidence]| -> Vec<String> {
        records.iter().map(|e| format!("{:?} {:?} {}", e.time, e.codes, e.location)).collect()
    };
    assert_eq!(strip(&from_stream), strip(&from_file));
}

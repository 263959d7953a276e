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

//! Hostile inputs (issue 13, part 4): special files, overlapping zip entries, terminal escapes,
//! warnings in every format. Every test here is bounded in time: a hang fails, it never blocks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::os::unix::fs::OpenOptionsExt;

use assert_cmd::Command;

/// `O_NONBLOCK` on Linux.
const O_NONBLOCK: i32 = 0o4000;

/// A scan that hangs fails after this long instead of blocking the suite.
const LIMIT: Duration = Duration::from_secs(20);

const LOG: &str = "2025-07-15 08:30:11 room01 sign-in failed: AADSTS50126\n";

/// A fresh folder of this test's own.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("uctriage-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs").success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Run the binary with a time limit; (exit code, stdout, stderr). A timeout panics.
fn run_bounded(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("uctriage")
        .expect("binary builds")
        .env("NO_COLOR", "1")
        .args(args)
        .timeout(LIMIT)
        .output()
        .expect("runs");
    let code =
        out.status.code().unwrap_or_else(|| panic!("killed (timeout?): {}", String::from_utf8_lossy(&out.stderr)));
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn fifo_in_a_folder_is_skipped_with_a_warning() {
    let d = dir("fifo-folder");
    std::fs::write(d.join("a.log"), LOG).unwrap();
    mkfifo(&d.join("pipe.log"));
    // Reached through a link too.
    std::os::unix::fs::symlink(d.join("pipe.log"), d.join("link.log")).unwrap();
    let (code, out, err) = run_bounded(&["scan", "--format", "json", d.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings = v["warnings"].to_string();
    for name in ["pipe.log", "link.log"] {
        assert!(warnings.contains(name) && warnings.contains("FIFO"), "no warning for {name}: {warnings}");
    }
    assert_eq!(v["stats"]["files"], 1, "{out}");
}

#[test]
fn socket_in_a_folder_is_skipped_with_a_warning() {
    let d = dir("socket-folder");
    std::fs::write(d.join("a.log"), LOG).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(d.join("control.sock")).unwrap();
    let (code, out, err) = run_bounded(&["scan", "--format", "json", d.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("control.sock") && warnings.contains("socket"), "{warnings}");
}

#[test]
fn device_linked_from_a_folder_is_skipped_with_a_warning() {
    let d = dir("device-folder");
    std::fs::write(d.join("a.log"), LOG).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.log")).unwrap();
    let (code, out, err) = run_bounded(&["scan", "--format", "json", d.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("zero.log") && warnings.contains("device"), "{warnings}");
}

#[test]
fn fifo_on_the_command_line_is_read_once_as_a_stream() {
    let d = dir("fifo-arg");
    let fifo = d.join("logs.txt");
    mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            // Wait for the reader without blocking (O_NONBLOCK: no reader yet is ENXIO), so that a
            // scan that never opens the FIFO fails the test instead of hanging it.
            let deadline = std::time::Instant::now() + LIMIT;
            let mut f = loop {
                match std::fs::OpenOptions::new().write(true).custom_flags(O_NONBLOCK).open(&fifo) {
                    Ok(f) => break f,
                    Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    Err(e) => panic!("no reader opened the FIFO: {e}"),
                }
            };
            f.write_all(LOG.as_bytes()).unwrap();
        })
    };
    let (code, out, err) = run_bounded(&["scan", "--format", "json", fifo.to_str().unwrap()]);
    writer.join().unwrap();
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"][0]["codes"][0], "AADSTS50126", "{out}");
    assert_eq!(v["inputs"][0]["path"], fifo.to_str().unwrap());
}

/// CRC-32 (IEEE), as zip entries carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A zip bomb without compression: `data` stored once behind one local header, and `copies`
/// central-directory entries (each with its own name) all pointing at it.
fn overlapping_zip(data: &[u8], copies: u16) -> Vec<u8> {
    let crc = crc32(data);
    let size = u32::try_from(data.len()).unwrap();
    let name = b"log.txt";
    let mut z = Vec::new();
    z.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    for v in [20u16, 0, 0, 0, 0x21] {
        z.extend_from_slice(&v.to_le_bytes()); // version, flags, stored, time, date
    }
    for v in [crc, size, size] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd_start = u32::try_from(z.len()).unwrap();
    for i in 0..copies {
        let name = format!("logs/{i:05}.txt");
        z.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [20u16, 20, 0, 0, 0, 0x21] {
            z.extend_from_slice(&v.to_le_bytes()); // made by, needed, flags, stored, time, date
        }
        for v in [crc, size, size] {
            z.extend_from_slice(&v.to_le_bytes());
        }
        for v in [u16::try_from(name.len()).unwrap(), 0, 0, 0, 0] {
            z.extend_from_slice(&v.to_le_bytes()); // name, extra, comment, disk, internal attributes
        }
        z.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        z.extend_from_slice(&0u32.to_le_bytes()); // local header at 0, for every entry
        z.extend_from_slice(name.as_bytes());
    }
    let cd_size = u32::try_from(z.len()).unwrap() - cd_start;
    z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, copies, copies] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    for v in [cd_size, cd_start] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

#[test]
fn overlapping_zip_entries_are_refused_naming_the_file() {
    let d = dir("overlap");
    let data = LOG.repeat(2000); // about 110 KB of lines, each with a code
    let bomb = overlapping_zip(data.as_bytes(), 3000); // about 330 MB if every entry were read
    std::fs::write(d.join("bomb.zip"), &bomb).unwrap();
    std::fs::write(d.join("a.log"), LOG).unwrap();
    let started = std::time::Instant::now();
    let (code, out, err) = run_bounded(&["scan", "--format", "json", d.to_str().unwrap()]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("bomb.zip") && warnings.contains("overlap"), "{warnings}");
    assert_eq!(v["stats"]["files"], 1, "nothing of the bomb is read: {out}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// Bytes a terminal acts on: ESC, BEL, CSI and the other C0 and C1 controls but tab and newline.
fn terminal_controls(s: &str) -> Vec<char> {
    s.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\t')).collect()
}

#[test]
fn terminal_escapes_from_a_log_never_reach_the_terminal() {
    let d = dir("escapes");
    let evil = "\x1b]0;pwned\x07\x1b[2J\u{9b}31m\r";
    let log = format!("{}2025-07-15 08:30:11 room01 {evil} sign-in failed: AADSTS50126 {evil}\n", LOG.repeat(5));
    std::fs::write(d.join("a.log"), log).unwrap();
    // A file name with escapes, empty, so that a warning names it.
    std::fs::write(d.join(format!("{evil}.log")), "").unwrap();
    for format in ["text", "markdown"] {
        let (code, out, err) = run_bounded(&["scan", "--format", format, d.to_str().unwrap()]);
        assert_eq!(code, 1, "{out}\n{err}");
        assert!(out.contains("AADSTS50126") && out.contains("pwned"), "{format}: {out}");
        assert!(terminal_controls(&out).is_empty(), "{format} holds {:?}:\n{out}", terminal_controls(&out));
        assert!(terminal_controls(&err).is_empty(), "{format} stderr holds controls: {err:?}");
    }
    // Warnings printed to stderr.
    let (_, out, err) = run_bounded(&["evidence", d.to_str().unwrap()]);
    assert!(err.contains("pwned"), "{err}");
    assert!(terminal_controls(&err).is_empty(), "evidence stderr holds {:?}: {err:?}", terminal_controls(&err));
    // JSON stays exact: the escapes are there, as JSON escapes.
    assert!(out.contains("\\u001b]0;pwned\\u0007"), "{out}");
}

#[test]
fn every_format_carries_the_run_warnings() {
    let d = dir("run-warnings");
    std::fs::write(d.join("a.log"), LOG).unwrap();
    mkfifo(&d.join("pipe.log"));
    let missing = d.join("missing.log");
    let (dir, missing) = (d.to_str().unwrap(), missing.to_str().unwrap());
    let (_, json, _) = run_bounded(&["scan", "--format", "json", dir, missing]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let warnings: Vec<String> =
        v["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_owned()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    for format in ["text", "markdown", "html"] {
        let (code, out, err) = run_bounded(&["scan", "--format", format, dir, missing]);
        assert_eq!(code, 1, "{err}");
        for w in &warnings {
            // The path and the message, whatever the format does around them.
            let (path, message) = w.split_once(": ").unwrap();
            let message = message.split(':').next().unwrap();
            assert!(out.contains(path) && out.contains(message), "{format} lacks {w:?}:\n{out}");
        }
    }
}

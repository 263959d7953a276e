use std::io::Write;

use crate::{run, run_json};

fn tmp(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("uctriage-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(body.as_bytes()).unwrap();
    p.display().to_string()
}

#[test]
fn json_report_follows_the_contract() {
    let p = tmp("paste.txt", "2025-07-15 08:30:11 room01@contoso.com sign-in failed: AADSTS50126 from 192.0.2.53\n");
    let (code, v) = run_json(&["scan", "--format", "json", &p]);
    assert_eq!(code, 1);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["verdict"], "problems");
    assert!(v["tool_version"].is_string());
    assert_eq!(v["inputs"][0]["format"], "generic-text");
    assert_eq!(v["inputs"][0]["records"], 1);
    let f = &v["findings"][0];
    for key in [
        "rule",
        "severity",
        "title",
        "codes",
        "family",
        "layer",
        "cause",
        "fix",
        "references",
        "first_seen",
        "last_seen",
        "count",
        "evidence",
    ] {
        assert!(!f[key].is_null(), "finding lacks {key}: {f}");
    }
    assert_eq!(f["codes"][0], "AADSTS50126");
    assert_eq!(f["first_seen"], "2025-07-15T08:30:11Z");
    let e = &f["evidence"][0];
    for key in ["path", "location", "time", "excerpt"] {
        assert!(!e[key].is_null(), "evidence lacks {key}");
    }
    for key in ["files", "records", "bytes", "elapsed_ms"] {
        assert!(v["stats"][key].is_u64(), "stats.{key}");
    }
}

#[test]
fn redact_removes_personal_data_in_every_format() {
    let p = tmp("pii.txt", "2025-07-15 08:30:11 room01@contoso.com failed AADSTS50126 from 192.0.2.53 corr 6f2d6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f\n");
    for format in ["text", "json", "markdown", "html"] {
        let (_, out, _) = run(&["scan", "--redact", "--format", format, &p]);
        for secret in ["room01@contoso.com", "192.0.2.53", "6f2d6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"] {
            assert!(!out.contains(secret), "{format} leaks {secret}");
        }
        assert!(out.contains("AADSTS50126"), "{format} lost the code");
        assert!(out.contains("user-1@tenant-1"), "{format}: no placeholder");
    }
}

#[test]
fn exit_codes_follow_the_verdict() {
    let healthy = tmp("quiet.txt", "all good here\n");
    let (code, out, _) = run(&["scan", &healthy]);
    assert_eq!(code, 3, "a text with no code is inconclusive:\n{out}");
    assert!(out.contains("no record"), "{out}");
    let (code, _, err) = run(&["scan", "/definitely/not/here"]);
    assert_eq!(code, 2);
    assert!(err.contains("/definitely/not/here"), "{err}");
}

#[test]
fn html_is_one_self_contained_file_and_output_goes_to_a_file() {
    let p = tmp("h.txt", "2025-07-15 08:30:11 AADSTS53003 blocked\n");
    let out_file = std::env::temp_dir().join(format!("uctriage-cli-{}-report.html", std::process::id()));
    let (code, stdout, _) = run(&["scan", "--format", "html", "-o", out_file.to_str().unwrap(), &p]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    let html = std::fs::read_to_string(&out_file).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("<link"));
    assert!(html.contains("AADSTS53003"));
}

#[test]
fn rules_test_and_lint_pass() {
    let (code, out, _) = run(&["rules", "test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 failed"));
    let (code, _, _) = run(&["rules", "lint"]);
    assert_eq!(code, 0);
}

#[test]
fn evidence_exits_2_like_scan_when_nothing_can_be_read() {
    let junk = std::env::temp_dir().join(format!("uctriage-cli-{}-junk.bin", std::process::id()));
    std::fs::write(&junk, [0u8, 1, 2, 3, 0xff, 0xfe, 0, 0, 7, 9, 200, 100]).unwrap();
    let junk = junk.display().to_string();
    for args in [&["evidence", junk.as_str()][..], &["scan", junk.as_str()], &["evidence", "/definitely/not/here"]] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains("uctriage: nothing could be read from the given paths\n  "), "{args:?}: {err}");
    }
    // One readable input is enough.
    let readable = tmp("readable.txt", "sign-in failed AADSTS50076\n");
    let (code, out, err) = run(&["evidence", &junk, &readable]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("AADSTS50076"), "{out}");
}

#[test]
fn output_format_follows_the_file_extension_and_format_names_ignore_case() {
    let p = tmp("ext.txt", "2025-07-15 08:30:11 AADSTS53003 blocked\n");
    let dir = std::env::temp_dir().join(format!("uctriage-cli-{}-ext", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, starts) in [
        ("r.html", "<!doctype html>"),
        ("r.HTM", "<!doctype html>"),
        ("r.md", "# "),
        ("r.json", "{"),
        ("r.jsonl", "{"),
        ("r.txt", ""),
    ] {
        let f = dir.join(file);
        let (code, _, err) = run(&["scan", "-o", f.to_str().unwrap(), &p]);
        assert_eq!(code, 1, "{file}: {err}");
        let body = std::fs::read_to_string(&f).unwrap();
        assert!(body.starts_with(starts), "{file}: {body}");
        if starts.is_empty() {
            assert!(!body.starts_with('{') && !body.starts_with('#') && !body.starts_with('<'), "{body}");
        }
    }
    // --format wins over the extension.
    let f = dir.join("forced.html");
    run(&["scan", "--format", "json", "-o", f.to_str().unwrap(), &p]);
    assert!(std::fs::read_to_string(&f).unwrap().starts_with('{'));
    // Names in any case, and md for markdown.
    let (code, v) = run_json(&["scan", "--format", "JSON", &p]);
    assert_eq!(code, 1);
    assert!(v["findings"].is_array(), "{v}");
    let (code, out, err) = run(&["scan", "--format", "md", &p]);
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with("# "), "{out}");
    let (code, _, err) = run(&["explain", "--format", "Json", "AADSTS50076"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn scan_follows_color() {
    let p = tmp("colour.txt", "2025-07-15 08:30:11 AADSTS53003 blocked\n");
    let (code, out, _) = run(&["--color", "always", "scan", &p]);
    assert_eq!(code, 1);
    assert!(out.contains("\x1b["), "{out}");
    let (_, out, _) = run(&["scan", "--color", "never", &p]);
    assert!(!out.contains('\x1b'), "{out}");
    let (_, out, _) = run(&["scan", &p]);
    assert!(!out.contains('\x1b'), "piped output is plain: {out}");
}

#[test]
fn sample_never_overwrites_a_file_without_force() {
    let dir = std::env::temp_dir().join(format!("uctriage-cli-{}-sample", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("mine.zip");
    let f = f.to_str().unwrap();
    std::fs::write(f, "precious").unwrap();
    let (code, out, err) = run(&["sample", "-o", f]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains(f) && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(f).unwrap(), "precious");
    let (code, out, err) = run(&["sample", "-o", f, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote"), "{out}");
    assert!(std::fs::read(f).unwrap().starts_with(b"PK"));
}

#[test]
fn counts_of_one_are_singular_in_every_report() {
    let p = tmp("single.txt", "2025-07-15 08:30:11 AADSTS53003 blocked\n");
    let (_, text, _) = run(&["scan", &p]);
    let (_, md, _) = run(&["scan", "--format", "markdown", &p]);
    let (_, html, _) = run(&["scan", "--format", "html", &p]);
    assert!(text.contains("1 finding,") && text.contains("seen 1 time,"), "{text}");
    assert!(text.contains("Read 1 file, 1 record, "), "{text}");
    assert!(md.contains("**Seen:** 1 time,") && md.contains("\n1 file, 1 record, "), "{md}");
    assert!(html.contains("1 file, 1 record, ") && html.contains("seen 1 time,"), "{html}");
    for (name, out) in [("text", &text), ("markdown", &md), ("html", &html)] {
        for wrong in ["1 times", "1 records", "1 files", "1 findings", "1 calls", "1 heartbeats"] {
            assert!(!out.contains(&format!(" {wrong}")), "{name} says {wrong:?}: {out}");
        }
    }
}

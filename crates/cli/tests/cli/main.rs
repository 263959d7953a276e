//! End-to-end tests of the `uctriage` binary: real process, real output, snapshots with insta.

mod calm;
mod codes;
mod explain;
mod exports;
mod fleet;
mod hostile;
mod pasted;
mod redact;
mod scan;
mod scenarios;
mod triage;

use assert_cmd::Command;

/// Run the binary with `args`; return (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::cargo_bin("uctriage").expect("binary builds").env("NO_COLOR", "1").args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

/// Run and parse stdout as JSON.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let (code, out, err) = run(args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
    (code, v)
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run(&["explain"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&["no-such-command"]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("uctriage "));
}

#[test]
fn help_says_what_the_tool_does_today() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(!out.contains("soon"), "{out}");
    assert!(out.contains("diagnose log bundles") && out.contains("watch a fleet"), "{out}");
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "_uctriage()"),
        ("zsh", "#compdef uctriage"),
        ("fish", "complete -c uctriage"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: {out}");
        for word in ["explain", "scan", "format", "markdown"] {
            assert!(out.contains(word), "{shell} completes no {word}");
        }
    }
    assert_eq!(run(&["completions", "tcsh"]).0, 2);
}

#[test]
fn a_man_page_generated_from_the_flags() {
    let (code, out, err) = run(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(".ie") || out.contains(".TH uctriage 1"), "{out}");
    assert!(out.contains(".TH uctriage 1"), "{out}");
    // The commands and the words of their help, as roff.
    for word in ["explain", "scan", "completions", "Diagnose", "SUBCOMMANDS"] {
        assert!(out.contains(word), "the page lacks {word}:\n{out}");
    }
    assert!(!out.contains("soon"));
    let (code, out, err) = run(&["man", "scan"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH uctriage-scan 1") && out.contains("redact"), "{out}");
    let (code, _, err) = run(&["man", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("scan"), "{err}");
}

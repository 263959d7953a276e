//! Loopback tests of every check kind: each test starts its peers (TLS server, DNS server, STUN
//! responder, SIP responders, an HTTP proxy, a stand-in for Microsoft's sign-in and Graph
//! endpoints) on 127.0.0.1 and runs the check through the same flags a user types. No test
//! touches the outside network: `check network` always gets a `--targets` file and `--proxy`,
//! `check dns` always a `--resolver`, `check account` always `--login-url` and `--graph-url`.

mod account;
mod cert;
mod dns;
mod graph;
mod network;
mod pexip;
mod pki;
mod servers;
mod sip;
mod tls;

use clap::Parser;
use uctriage_checks::{CheckArgs, Report, Status};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    check: CheckArgs,
}

/// Parse `uctriage check ARGS...` and run it, returning the report.
pub fn check(args: &[&str]) -> Report {
    let cli = Cli::try_parse_from(std::iter::once("check").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("bad test flags {args:?}: {e}"));
    uctriage_checks::execute(&cli.check).unwrap_or_else(|e| panic!("check {args:?} could not run: {e}"))
}

/// Parse and run through `run`, returning the exit code and what was written.
pub fn run(args: &[&str]) -> (u8, String) {
    let cli = Cli::try_parse_from(std::iter::once("check").chain(args.iter().copied())).expect("flags parse");
    let mut out = Vec::new();
    let code = uctriage_checks::run(&cli.check, &mut out);
    (code, String::from_utf8(out).expect("utf-8 output"))
}

/// The status of check `id`, failing the test with the whole report when it is absent.
#[track_caller]
pub fn status(report: &Report, id: &str) -> Status {
    match report.get(id) {
        Some(c) => c.status,
        None => panic!("no check {id} in {report:#?}"),
    }
}

/// Assert a check's status, printing the report when it differs.
#[track_caller]
pub fn assert_status(report: &Report, id: &str, expected: Status) {
    let got = status(report, id);
    assert_eq!(got, expected, "check {id}: {report:#?}");
    if expected == Status::Fail || expected == Status::Warn {
        let fix = report.get(id).and_then(|c| c.fix.clone()).unwrap_or_default();
        assert!(!fix.trim().is_empty(), "check {id} has no fix text: {report:#?}");
    }
}

#[test]
fn every_fail_in_these_tests_has_a_fix() {
    let r = check(&["route-rule", "--match", r"(\d+)", "--replace", r"\1", "12"]);
    assert_status(&r, "rule.alias.1", Status::Fail);
}

#[test]
fn usage_errors_exit_2() {
    let (code, out) = run(&["tls", "https://bad.example.test/"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    let (code, _) = run(&["pexip-vars", "/nonexistent/vars.ps1"]);
    assert_eq!(code, 2);
    assert!(Cli::try_parse_from(["check", "sip"]).is_err());
}

#[test]
fn route_rule_from_the_pexip_article() {
    let r = check(&[
        "route-rule",
        "--match",
        r"(\d{9,12})@vc\.example\.com",
        "--replace",
        r"\1",
        "123456789@vc.example.com",
        "123456789012@vc.example.com",
    ]);
    assert_eq!(r.exit_code(), 0, "{r:#?}");

    // A replace string that keeps the domain: the connector gets no meeting ID.
    let r = check(&[
        "route-rule",
        "--match",
        r"(\d{9,12})@vc\.example\.com",
        "--replace",
        r"\1@teams",
        "123456789@vc.example.com",
    ]);
    assert_status(&r, "rule.alias.1", Status::Fail);
    // Too few digits captured.
    let r = check(&["route-rule", "--match", r"(\d+)\..*", "--replace", r"\1", "12345678.x"]);
    assert_status(&r, "rule.alias.1", Status::Fail);
    // Does not compile.
    let r = check(&["route-rule", "--match", r"(\d{9,12}", "123456789"]);
    assert_status(&r, "rule.regex", Status::Fail);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn json_output_shape() {
    let (code, out) =
        run(&["--format", "json", "route-rule", "--match", r"(\d{9,12})", "--replace", r"\1", "123456789", "12"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(v["target"].is_string());
    let checks = v["checks"].as_array().expect("checks");
    for c in checks {
        for key in ["id", "status", "detail", "fix"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        assert!(["pass", "warn", "fail", "skip"].contains(&c["status"].as_str().unwrap()));
    }
    assert_eq!(checks.last().unwrap()["status"], "fail");
    assert!(checks.last().unwrap()["fix"].is_string());
}

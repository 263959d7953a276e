//! `check sip` against loopback SIP responders over UDP and TLS.

use uctriage_checks::Status;

use crate::pki::{Key, Pki, TempDir, Validity};
use crate::{assert_status, check, servers};

#[test]
fn options_over_udp_answered_200() {
    let addr = servers::sip_udp("200 OK").to_string();
    let r = check(&["--timeout", "3", "sip", &addr, "--name", "sbc.example.test"]);
    assert_status(&r, "sip.options", Status::Pass);
    assert_status(&r, "sip.response-time", Status::Pass);
    assert!(r.get("sip.options").unwrap().detail.contains("Server: loopback-sbc/1.0"));
}

#[test]
fn options_over_udp_answered_403_fails_with_the_kb_fix() {
    let addr = servers::sip_udp("403 Forbidden").to_string();
    let r = check(&["--timeout", "3", "sip", &addr]);
    assert_status(&r, "sip.options", Status::Fail);
    assert!(r.get("sip.options").unwrap().fix.as_ref().unwrap().contains("uctriage explain \"SIP 403\""));
}

#[test]
fn options_over_udp_unanswered_fails() {
    let addr = servers::silent_udp().to_string();
    let r = check(&["--timeout", "1", "sip", &addr]);
    assert_status(&r, "sip.options", Status::Fail);
}

#[test]
fn options_over_tls_with_certificate_checks() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&["sbc.example.test"], Key::Rsa, Validity::Good);
    let addr = servers::sip_tls(chain, key).to_string();
    let ca = pki.root_file(&dir);
    let r = check(&[
        "--timeout",
        "3",
        "sip",
        &addr,
        "--tls",
        "--name",
        "sbc.example.test",
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_status(&r, "sip.tls", Status::Pass);
    assert_status(&r, "sip.options", Status::Pass);
    assert_status(&r, "cert.name", Status::Pass);
    assert!(r.get("sip.tls").unwrap().detail.contains("TLS 1."));
}

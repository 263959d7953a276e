//! `check tls` against a loopback rustls server with rcgen certificates.

use uctriage_checks::Status;

use crate::pki::{self, Key, Pki, TempDir, Validity};
use crate::{assert_status, check, run, servers};

const NAME: &str = "sbc.example.test";

fn tls(addr: std::net::SocketAddr, ca: &std::path::Path, extra: &[&str]) -> uctriage_checks::Report {
    let target = addr.to_string();
    let mut args = vec!["--timeout", "5", "tls", target.as_str(), "--name", NAME, "--ca-file", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    check(&args)
}

#[test]
fn good_chain_passes() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&[NAME], Key::Rsa, Validity::Good);
    let addr = servers::tls_server(chain, key);
    let r = tls(addr, &pki.root_file(&dir), &[]);
    for id in [
        "tcp.connect",
        "tls.handshake",
        "tls.version",
        "tls.tls12",
        "cert.chain",
        "cert.trust",
        "cert.intermediates",
        "cert.expiry",
        "cert.name",
        "cert.key",
        "cert.signature",
        "cert.usage",
    ] {
        assert_status(&r, id, Status::Pass);
    }
    assert!(r.get("cert.chain").unwrap().detail.contains("uctriage test Intermediate"));
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn expired_certificate_fails() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&[NAME], Key::Rsa, Validity::Expired);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.expiry", Status::Fail);
    // Trust is judged apart from the dates.
    assert_status(&r, "cert.trust", Status::Pass);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn certificate_expiring_within_30_days_warns() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&[NAME], Key::Rsa, Validity::ExpiresSoon);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.expiry", Status::Warn);
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn wrong_name_fails() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&["other.example.test"], Key::Rsa, Validity::Good);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.name", Status::Fail);
    assert!(r.get("cert.name").unwrap().detail.contains("other.example.test"));
}

#[test]
fn wildcard_covers_the_sbc() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&["*.example.test"], Key::Rsa, Validity::Good);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.name", Status::Pass);
}

#[test]
fn self_signed_fails_trust() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki::self_signed(&[NAME]);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.trust", Status::Fail);
    assert!(r.get("cert.trust").unwrap().detail.contains("self-signed"));
}

#[test]
fn ecdsa_is_rejected_by_the_pexip_profile_only() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&[NAME], Key::Ecdsa, Validity::Good);
    let addr = servers::tls_server(chain, key);
    let ca = pki.root_file(&dir);
    let generic = tls(addr, &ca, &[]);
    assert_status(&generic, "cert.key", Status::Pass);
    assert!(generic.get("cert.key").unwrap().detail.contains("ECDSA P-256"));
    let pexip = tls(addr, &ca, &["--profile", "pexip"]);
    assert_status(&pexip, "cert.key", Status::Fail);
}

#[test]
fn missing_intermediate_fails() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (mut chain, key) = pki.leaf(&[NAME], Key::Rsa, Validity::Good);
    chain.truncate(1);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.intermediates", Status::Fail);
    assert_status(&r, "cert.trust", Status::Fail);
}

#[test]
fn issued_by_the_root_needs_no_intermediate() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf_from_root(&[NAME]);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &[]);
    assert_status(&r, "cert.intermediates", Status::Pass);
    assert_status(&r, "cert.trust", Status::Pass);
}

#[test]
fn direct_routing_profile_wants_a_public_ca() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&[NAME], Key::Rsa, Validity::Good);
    let r = tls(servers::tls_server(chain, key), &pki.root_file(&dir), &["--profile", "direct-routing"]);
    // Trusted only through --ca-file: Microsoft's proxies would not trust it.
    assert_status(&r, "cert.trust", Status::Warn);
}

#[test]
fn nothing_listening_fails_the_connect() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let r = tls(servers::closed_tcp_port(), &pki.root_file(&dir), &["--timeout", "2"]);
    assert_status(&r, "tcp.connect", Status::Fail);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn text_output_prints_the_chain_and_fixes() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, key) = pki.leaf(&["other.example.test"], Key::Rsa, Validity::Expired);
    let addr = servers::tls_server(chain, key).to_string();
    let ca = pki.root_file(&dir);
    let (code, out) = run(&["tls", &addr, "--name", NAME, "--ca-file", ca.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL  cert.expiry"), "{out}");
    assert!(out.contains("fix: Renew the certificate"), "{out}");
    assert!(out.contains("issuer CN=uctriage test Intermediate"), "{out}");
}

#[test]
fn a_name_that_does_not_resolve_is_a_dns_failure_not_a_firewall_one() {
    // `.invalid` never resolves, with or without a network.
    let r = check(&["--timeout", "2", "tls", "nothere.invalid:5061"]);
    assert_status(&r, "tcp.connect", Status::Fail);
    let c = r.get("tcp.connect").unwrap();
    assert!(c.detail.starts_with("DNS: nothere.invalid does not resolve"), "{c:?}");
    let fix = c.fix.as_deref().unwrap();
    assert!(fix.contains("nslookup nothere.invalid") && !fix.contains("firewalls between"), "{c:?}");
    // Nothing listening on a loopback port: the connection, not DNS.
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let r = tls(servers::closed_tcp_port(), &pki.root_file(&dir), &["--timeout", "2"]);
    let c = r.get("tcp.connect").unwrap();
    assert!(!c.detail.contains("DNS") && c.fix.as_deref().unwrap().contains("firewalls"), "{c:?}");
}

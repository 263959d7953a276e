//! `check cert` on PEM, DER and PKCS#12 files.

use uctriage_checks::Status;

use crate::pki::{chain_pem, fixture, Key, Pki, TempDir, Validity};
use crate::{assert_status, check};

const NAME: &str = "teamsconn.vc.example.test";

fn p12(file: &str, extra: &[&str]) -> uctriage_checks::Report {
    let path = fixture(file);
    let ca = fixture("p12-root.pem");
    let mut args = vec![
        "cert",
        path.to_str().unwrap(),
        "--password",
        "uctriage",
        "--name",
        NAME,
        "--ca-file",
        ca.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    check(&args)
}

#[test]
fn pkcs12_with_a_cng_ksp_fails_for_pexip() {
    let r = p12("connector-ksp-aes.pfx", &["--profile", "pexip"]);
    assert_status(&r, "p12.provider", Status::Fail);
    assert!(r.get("p12.provider").unwrap().detail.contains("Microsoft Software Key Storage Provider"));
    assert!(r.get("file.format").unwrap().detail.contains("HMAC-SHA256 verified"));
    assert_status(&r, "cert.name", Status::Pass);
    assert_eq!(r.exit_code(), 1);
    // The generic profile only reports the provider.
    assert_status(&p12("connector-ksp-aes.pfx", &[]), "p12.provider", Status::Pass);
}

#[test]
fn legacy_pkcs12_with_a_csp_passes_for_pexip() {
    // 3DES key bag, RC2-40 certificate bag, SHA-1 MAC: the classic Windows export.
    let r = p12("connector-csp-legacy.pfx", &["--profile", "pexip"]);
    assert_status(&r, "p12.provider", Status::Pass);
    assert!(r.get("cert.chain").unwrap().detail.starts_with("2 certificate(s)"));
    assert_eq!(r.exit_code(), 0, "{r:#?}");
}

#[test]
fn pkcs12_ecdsa_fails_for_pexip() {
    let r = p12("connector-ecdsa.pfx", &["--profile", "pexip"]);
    assert_status(&r, "cert.key", Status::Fail);
    assert_status(&r, "p12.provider", Status::Warn);
}

#[test]
fn pkcs12_wrong_password() {
    let path = fixture("connector-ksp-aes.pfx");
    let r = check(&["cert", path.to_str().unwrap(), "--password", "nope"]);
    assert_status(&r, "p12.password", Status::Fail);
}

#[test]
fn pem_chain_and_der_leaf() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let ca = pki.root_file(&dir);
    let (chain, _) = pki.leaf(&[NAME], Key::Rsa, Validity::Good);
    // Intermediate first: the check puts the leaf first itself.
    let pem = dir.write("chain.pem", chain_pem(&[chain[1].clone(), chain[0].clone()]));
    let r = check(&["cert", pem.to_str().unwrap(), "--name", NAME, "--ca-file", ca.to_str().unwrap()]);
    assert_eq!(r.exit_code(), 0, "{r:#?}");
    assert!(r.get("file.format").unwrap().detail.starts_with("PEM: 2"));

    let der = dir.write("leaf.cer", chain[0].as_ref());
    let r = check(&["cert", der.to_str().unwrap(), "--name", NAME, "--ca-file", ca.to_str().unwrap()]);
    assert!(r.get("file.format").unwrap().detail.starts_with("DER"));
    // A lone leaf without its intermediate.
    assert_status(&r, "cert.intermediates", Status::Fail);
}

#[test]
fn expired_pem_fails() {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let (chain, _) = pki.leaf(&[NAME], Key::Rsa, Validity::Expired);
    let pem = dir.write("expired.pem", chain_pem(&chain));
    let r = check(&["cert", pem.to_str().unwrap()]);
    assert_status(&r, "cert.expiry", Status::Fail);
    assert_status(&r, "cert.name", Status::Skip);
}

#[test]
fn not_a_certificate_is_a_usage_error() {
    let dir = TempDir::new();
    let junk = dir.write("junk.bin", b"hello");
    let (code, _) = crate::run(&["cert", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
}

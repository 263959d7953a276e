//! Test certificates made with rcgen: a root, an intermediate, and leaves that are good, expired,
//! about to expire, for the wrong name, self-signed, ECDSA, or served without their intermediate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub const RSA_KEY: &str = include_str!("fixtures/rsa2048.key.pem");

/// A fresh folder under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "uctriage-checks-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/checks/fixtures").join(name)
}

/// Seconds since the epoch, `days` from now.
fn unix_in_days(days: u64) -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(days * 86_400)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Rsa,
    Ecdsa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Good,
    Expired,
    ExpiresSoon,
}

/// A test CA: root and intermediate, both RSA.
pub struct Pki {
    pub root_pem: String,
    root: Issuer<'static, KeyPair>,
    pub intermediate: CertificateDer<'static>,
    intermediate_issuer: Issuer<'static, KeyPair>,
}

fn ca_params(cn: &str, org: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, org);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2090, 1, 1);
    p
}

impl Pki {
    /// A CA whose root names `org` as its organization.
    pub fn new(org: &str) -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params(&format!("{org} Root"), org);
        let root_cert = root_params.self_signed(&root_key).unwrap();
        let root = Issuer::new(root_params, root_key);
        let inter_key = KeyPair::generate().unwrap();
        let inter_params = ca_params(&format!("{org} Intermediate"), org);
        let intermediate = inter_params.signed_by(&inter_key, &root).unwrap();
        Pki {
            root_pem: root_cert.pem(),
            root,
            intermediate: intermediate.der().clone(),
            intermediate_issuer: Issuer::new(inter_params, inter_key),
        }
    }

    /// Write the root to `dir` for `--ca-file`.
    pub fn root_file(&self, dir: &TempDir) -> PathBuf {
        dir.write("root.pem", &self.root_pem)
    }

    /// A leaf for `names`, issued by the intermediate; the chain is leaf + intermediate.
    pub fn leaf(
        &self,
        names: &[&str],
        key: Key,
        validity: Validity,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let (params, kp) = leaf_params(names, key, validity);
        let cert = params.signed_by(&kp, &self.intermediate_issuer).unwrap();
        (vec![cert.der().clone(), self.intermediate.clone()], private(&kp))
    }

    /// A leaf issued by the root directly.
    pub fn leaf_from_root(&self, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let (params, kp) = leaf_params(names, Key::Rsa, Validity::Good);
        let cert = params.signed_by(&kp, &self.root).unwrap();
        (vec![cert.der().clone()], private(&kp))
    }
}

fn private(kp: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(kp.serialize_der()))
}

fn leaf_params(names: &[&str], key: Key, validity: Validity) -> (CertificateParams, KeyPair) {
    let mut p = CertificateParams::new(names.iter().map(|n| (*n).to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    match validity {
        Validity::Good => {
            p.not_before = rcgen::date_time_ymd(2024, 1, 1);
            p.not_after = rcgen::date_time_ymd(2080, 1, 1);
        }
        Validity::Expired => {
            p.not_before = rcgen::date_time_ymd(2021, 1, 1);
            p.not_after = rcgen::date_time_ymd(2022, 1, 1);
        }
        Validity::ExpiresSoon => {
            p.not_before = rcgen::date_time_ymd(2024, 1, 1);
            p.not_after = rcgen::date_time_ymd(1970, 1, 1) + unix_in_days(10);
        }
    }
    let kp = match key {
        Key::Rsa => KeyPair::from_pem(RSA_KEY).unwrap(),
        Key::Ecdsa => KeyPair::generate().unwrap(),
    };
    (p, kp)
}

/// A self-signed RSA leaf.
pub fn self_signed(names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let (params, kp) = leaf_params(names, Key::Rsa, Validity::Good);
    let cert = params.self_signed(&kp).unwrap();
    (vec![cert.der().clone()], private(&kp))
}

/// PEM text of a chain.
pub fn chain_pem(chain: &[CertificateDer<'static>]) -> String {
    let mut out = String::new();
    for c in chain {
        let b64 = base64_encode(c.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

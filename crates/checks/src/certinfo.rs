//! Certificate chain inspection shared by `check tls`, `check cert`, `check sip --tls` and the
//! interception check of `check network`: trust by each store, missing intermediates, expiry,
//! names, key type, signature algorithm and extended key usage, judged by a [`Profile`].

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::time::{date, now_unix};
use crate::{Check, Error, Profile, Report, TrustArgs};

/// Certificates under this many days from expiry are a warning.
pub const EXPIRY_WARN_DAYS: i64 = 30;

/// One set of trust anchors.
#[derive(Debug)]
pub struct Store {
    pub label: &'static str,
    /// Whether the store stands for the public web PKI (Mozilla roots, or a CA file given on the
    /// command line for a lab), as opposed to whatever is installed on this machine.
    pub public: bool,
    roots: Arc<RootCertStore>,
}

impl Store {
    fn has_subject(&self, name_der: &[u8]) -> bool {
        let inner = strip_sequence(name_der);
        self.roots.roots.iter().any(|a| a.subject.as_ref() == inner || a.subject.as_ref() == name_der)
    }
}

/// The trust stores a chain is verified against.
#[derive(Debug)]
pub struct TrustStores {
    pub stores: Vec<Store>,
}

impl TrustStores {
    /// The Mozilla roots, the OS store and, when given, the CA file.
    pub fn load(args: &TrustArgs) -> Result<TrustStores, Error> {
        let mut stores = Vec::new();
        let mozilla = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        stores.push(Store { label: "Mozilla roots", public: true, roots: Arc::new(mozilla) });
        let mut os = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        os.add_parsable_certificates(native.certs);
        stores.push(Store { label: "OS store", public: false, roots: Arc::new(os) });
        if let Some(path) = &args.ca_file {
            let certs = read_pem_certs(path)?;
            if certs.is_empty() {
                return Err(Error::parse(path, "no CERTIFICATE blocks found"));
            }
            let mut extra = RootCertStore::empty();
            let (_, bad) = extra.add_parsable_certificates(certs);
            if bad > 0 {
                return Err(Error::parse(path, format!("{bad} certificate(s) could not be used as trust anchors")));
            }
            stores.push(Store { label: "CA file", public: true, roots: Arc::new(extra) });
        }
        Ok(TrustStores { stores })
    }

    fn knows_subject(&self, name_der: &[u8]) -> bool {
        self.stores.iter().any(|s| s.has_subject(name_der))
    }
}

/// Every CERTIFICATE block of a PEM file.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let mut certs = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        let pem = pem.map_err(|e| Error::parse(path, format!("bad PEM: {e}")))?;
        if pem.label == "CERTIFICATE" {
            certs.push(CertificateDer::from(pem.contents));
        }
    }
    Ok(certs)
}

/// What a chain is checked for.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The FQDN (or IP address) the leaf must carry.
    pub name: Option<&'a str>,
    pub profile: Profile,
}

/// The outcome of verifying a chain against the stores, for callers that judge it themselves.
#[derive(Debug)]
pub struct TrustOutcome {
    /// Labels of the stores that trust the chain.
    pub trusted_by: Vec<&'static str>,
    /// Whether a public store trusts it.
    pub public: bool,
    /// The organization of the top certificate's issuer (the root CA), if named.
    pub root_organization: Option<String>,
    /// The issuer of the last certificate sent.
    pub top_issuer: String,
}

/// Parsed view of one certificate.
struct Parsed<'a> {
    cert: X509Certificate<'a>,
}

fn parse_chain<'a>(chain: &'a [CertificateDer<'static>]) -> Result<Vec<Parsed<'a>>, String> {
    chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            X509Certificate::from_der(der.as_ref())
                .map(|(_, cert)| Parsed { cert })
                .map_err(|e| format!("certificate {i} cannot be parsed: {e}"))
        })
        .collect()
}

/// Check a chain (leaf first) and push one check per aspect to `report`.
pub fn inspect(chain: &[CertificateDer<'static>], expect: Expectations<'_>, trust: &TrustStores, report: &mut Report) {
    if chain.is_empty() {
        report.push(Check::fail(
            "cert.chain",
            "no certificate was presented",
            "Install the certificate with its private key on the server.",
        ));
        return;
    }
    let parsed = match parse_chain(chain) {
        Ok(p) => p,
        Err(e) => {
            report.push(Check::fail("cert.chain", e, "Re-issue or re-export the certificate; the file or server sends bytes that are not a valid X.509 certificate."));
            return;
        }
    };
    let now = now_unix();
    report.push(Check::pass("cert.chain", describe_chain(&parsed)));
    report.push(check_trust(chain, &parsed, trust, expect.profile, now));
    report.push(check_intermediates(&parsed, trust, expect.profile));
    report.push(check_expiry(&parsed, now));
    report.push(check_name(&parsed[0].cert, expect.name));
    report.push(check_key(&parsed[0].cert, expect.profile));
    report.push(check_signature(&parsed));
    report.push(check_usage(&parsed[0].cert, expect.profile));
}

/// Verify a chain against the stores (dates ignored when the chain was valid at some time).
pub fn trust_outcome(chain: &[CertificateDer<'static>], trust: &TrustStores) -> Result<TrustOutcome, String> {
    let parsed = parse_chain(chain)?;
    let last = parsed.last().ok_or("no certificate")?;
    let trusted_by: Vec<&'static str> =
        trust.stores.iter().filter(|s| verify_with(s, chain, &parsed, now_unix()).is_ok()).map(|s| s.label).collect();
    let public = trust.stores.iter().any(|s| s.public && trusted_by.contains(&s.label));
    let root_organization =
        last.cert.issuer().iter_organization().next().and_then(|o| o.as_str().ok()).map(str::to_string);
    Ok(TrustOutcome { trusted_by, public, root_organization, top_issuer: last.cert.issuer().to_string() })
}

fn describe_chain(parsed: &[Parsed<'_>]) -> String {
    let mut lines = Vec::new();
    for (i, p) in parsed.iter().enumerate() {
        let c = &p.cert;
        lines.push(format!(
            "{i} {}  [{}; {}; {} to {}]",
            c.subject(),
            key_description(c),
            signature_name(&c.signature_algorithm.algorithm.to_id_string()),
            date(c.validity().not_before.timestamp()),
            date(c.validity().not_after.timestamp()),
        ));
        lines.push(format!("  issuer {}", c.issuer()));
    }
    format!("{} certificate(s)\n{}", parsed.len(), lines.join("\n"))
}

/// A time inside every certificate's validity, when there is one, so that trust is judged apart
/// from expiry (expiry has its own check).
fn verification_time(parsed: &[Parsed<'_>], now: i64) -> i64 {
    let start = parsed.iter().map(|p| p.cert.validity().not_before.timestamp()).max().unwrap_or(now);
    let end = parsed.iter().map(|p| p.cert.validity().not_after.timestamp()).min().unwrap_or(now);
    if (start..=end).contains(&now) {
        now
    } else if start < end {
        start + (end - start).min(60)
    } else {
        now
    }
}

fn verify_with(
    store: &Store,
    chain: &[CertificateDer<'static>],
    parsed: &[Parsed<'_>],
    now: i64,
) -> Result<(), String> {
    if store.roots.is_empty() {
        return Err("the store is empty".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(store.roots.clone(), provider)
        .build()
        .map_err(|e| e.to_string())?;
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(verification_time(parsed, now).max(0) as u64));
    // The name is checked separately; a name mismatch still means the chain verified.
    let name = ServerName::try_from("name-checked-separately.invalid").map_err(|e| e.to_string())?;
    match verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], at) {
        Ok(_)
        | Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => Ok(()),
        Err(rustls::Error::InvalidCertificate(e)) => Err(certificate_error_text(&e)),
        Err(e) => Err(e.to_string()),
    }
}

fn certificate_error_text(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "no path to a trusted root (unknown issuer)".into(),
        CertificateError::BadSignature => "a signature in the chain does not verify".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "a certificate in the chain is expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "a certificate in the chain is not valid yet".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not for TLS server use".into()
        }
        other => format!("{other:?}"),
    }
}

fn is_self_signed(c: &X509Certificate<'_>) -> bool {
    c.subject().as_raw() == c.issuer().as_raw()
}

fn check_trust(
    chain: &[CertificateDer<'static>],
    parsed: &[Parsed<'_>],
    trust: &TrustStores,
    profile: Profile,
    now: i64,
) -> Check {
    let mut trusted = Vec::new();
    let mut reasons = Vec::new();
    for store in &trust.stores {
        match verify_with(store, chain, parsed, now) {
            Ok(()) => trusted.push(store),
            Err(e) => reasons.push(format!("{}: {e}", store.label)),
        }
    }
    let leaf = &parsed[0].cert;
    if trusted.is_empty() {
        let (what, fix) = if is_self_signed(leaf) {
            (
                "the certificate is self-signed".to_string(),
                "Replace it with a certificate issued by a public CA (Direct Routing and the Pexip Teams Connector accept only publicly trusted certificates).",
            )
        } else {
            (
                format!("no store trusts the chain ({})", reasons.join("; ")),
                "Use a certificate from a publicly trusted CA and make the server send the full chain (leaf and intermediates); for a private CA, trust its root with --ca-file.",
            )
        };
        return Check::fail("cert.trust", what, fix);
    }
    let labels: Vec<&str> = trusted.iter().map(|s| s.label).collect();
    let mut detail = format!("trusted by: {}", labels.join(", "));
    if !reasons.is_empty() {
        detail.push_str(&format!("\nnot trusted by: {}", reasons.join("; ")));
    }
    let public_store = trusted.iter().any(|s| s.label == "Mozilla roots" || s.label == "OS store");
    if profile == Profile::DirectRouting && !public_store {
        return Check::warn(
            "cert.trust",
            detail,
            "Microsoft's SIP proxies trust only public CAs: issue the SBC certificate from a CA on Microsoft's Direct Routing list.",
        );
    }
    Check::pass("cert.trust", detail)
}

fn check_intermediates(parsed: &[Parsed<'_>], trust: &TrustStores, profile: Profile) -> Check {
    for (i, p) in parsed.iter().enumerate() {
        let c = &p.cert;
        if is_self_signed(c) {
            continue;
        }
        let issuer = c.issuer().as_raw();
        let sent = parsed.iter().any(|q| q.cert.subject().as_raw() == issuer);
        if sent || trust.knows_subject(issuer) {
            continue;
        }
        let whose = if i == 0 { "the leaf".to_string() } else { format!("certificate {i}") };
        let fix = if profile == Profile::Pexip {
            "Include the intermediate CA certificates in the PFX (export with \"Include all certificates in the certification path\"); the Teams Connector needs the full chain."
        } else {
            "Configure the server (SBC, Conferencing Node) to send the intermediate CA certificates after the leaf; clients and Microsoft's SIP proxies do not fetch missing intermediates."
        };
        return Check::fail(
            "cert.intermediates",
            format!("the issuer of {whose} ({}) was not sent and is not a trusted root", c.issuer()),
            fix,
        );
    }
    Check::pass("cert.intermediates", "every issuer is in the chain or is a trusted root")
}

fn check_expiry(parsed: &[Parsed<'_>], now: i64) -> Check {
    let mut worst: Option<Check> = None;
    for (i, p) in parsed.iter().enumerate() {
        let v = p.cert.validity();
        let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
        let which = if i == 0 { "the leaf".to_string() } else { format!("certificate {i} ({})", p.cert.subject()) };
        if now > na {
            return Check::fail(
                "cert.expiry",
                format!("{which} expired on {} ({} days ago)", date(na), (now - na) / 86_400),
                "Renew the certificate, install it with the full chain, and restart the TLS service so that new connections use it.",
            );
        }
        if now < nb {
            return Check::fail(
                "cert.expiry",
                format!("{which} is not valid before {}", date(nb)),
                "Check the clock of this machine and of the server; if both are right, the certificate was issued for a future date: re-issue it.",
            );
        }
        let days = (na - now) / 86_400;
        if days < EXPIRY_WARN_DAYS && worst.is_none() {
            worst = Some(Check::warn(
                "cert.expiry",
                format!("{which} expires on {} (in {days} days)", date(na)),
                "Renew the certificate now and schedule the change; Direct Routing and Teams interop stop the day it expires.",
            ));
        }
    }
    worst.unwrap_or_else(|| {
        let na = parsed[0].cert.validity().not_after.timestamp();
        Check::pass("cert.expiry", format!("the leaf is valid until {} ({} days)", date(na), (na - now) / 86_400))
    })
}

/// The DNS names and IP addresses of the SAN extension, and the subject CNs.
fn names(c: &X509Certificate<'_>) -> (Vec<String>, Vec<std::net::IpAddr>, Vec<String>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => dns.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        ips.push(std::net::IpAddr::from(a));
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        ips.push(std::net::IpAddr::from(a));
                    }
                }
                _ => {}
            }
        }
    }
    let cns = c.subject().iter_common_name().filter_map(|a| a.as_str().ok()).map(str::to_ascii_lowercase).collect();
    (dns, ips, cns)
}

/// Whether a certificate name (possibly `*.example.com`) covers `host`.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

fn check_name(leaf: &X509Certificate<'_>, expected: Option<&str>) -> Check {
    let (dns, ips, cns) = names(leaf);
    let listed = {
        let mut all: Vec<String> = dns.clone();
        all.extend(ips.iter().map(ToString::to_string));
        if all.is_empty() {
            format!("no SAN; CN {}", cns.join(", "))
        } else {
            format!("SAN {}; CN {}", all.join(", "), if cns.is_empty() { "-".into() } else { cns.join(", ") })
        }
    };
    let Some(name) = expected else {
        return Check::skip("cert.name", format!("no FQDN to compare (give --name); the certificate has {listed}"));
    };
    let ok = match name.parse::<std::net::IpAddr>() {
        Ok(ip) => ips.contains(&ip),
        Err(_) => dns.iter().any(|d| name_matches(d, name)),
    };
    if ok {
        return Check::pass("cert.name", format!("{name} is covered: {listed}"));
    }
    if dns.is_empty() && cns.iter().any(|cn| name_matches(cn, name)) {
        return Check::warn(
            "cert.name",
            format!("{name} is only in the subject CN, not in a SAN: {listed}"),
            "Re-issue the certificate with the FQDN as a Subject Alternative Name; current TLS clients ignore the CN.",
        );
    }
    Check::fail(
        "cert.name",
        format!("{name} is not in the certificate: {listed}"),
        "Re-issue the certificate with this FQDN in the SAN (a wildcard covers one label), or connect with the FQDN the certificate was issued for; for Direct Routing the SBC FQDN paired in Teams must match.",
    )
}

fn key_description(c: &X509Certificate<'_>) -> String {
    let spki = c.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let name = match curve.as_str() {
                "1.2.840.10045.3.1.7" => "P-256",
                "1.3.132.0.34" => "P-384",
                "1.3.132.0.35" => "P-521",
                other => other,
            };
            format!("ECDSA {name}")
        }
        _ => match spki.algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => "Ed25519".into(),
            "1.3.101.113" => "Ed448".into(),
            other => format!("key {other}"),
        },
    }
}

fn check_key(leaf: &X509Certificate<'_>, profile: Profile) -> Check {
    let desc = key_description(leaf);
    match leaf.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() < 2048 => Check::fail(
            "cert.key",
            format!("{desc}: shorter than 2048 bits"),
            "Re-issue the certificate with an RSA key of 2048 bits or more.",
        ),
        Ok(PublicKey::RSA(_)) => Check::pass("cert.key", desc),
        _ if profile == Profile::Pexip => Check::fail(
            "cert.key",
            format!("{desc}: the Pexip Teams Connector supports RSA certificates only"),
            "Request a new certificate with an RSA key (2048 bits or more); the installer rejects ECDSA certificates.",
        ),
        _ => Check::pass("cert.key", desc),
    }
}

/// A readable name for a signature algorithm OID.
pub fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "Ed25519",
        other => return other.to_string(),
    }
    .to_string()
}

fn check_signature(parsed: &[Parsed<'_>]) -> Check {
    for (i, p) in parsed.iter().enumerate() {
        // A root's own signature is never checked by clients, so its algorithm does not matter.
        if i > 0 && is_self_signed(&p.cert) {
            continue;
        }
        let name = signature_name(&p.cert.signature_algorithm.algorithm.to_id_string());
        if name.contains("md5") || name.contains("sha1") || name.contains("SHA1") {
            return Check::fail(
                "cert.signature",
                format!("certificate {i} is signed with {name}"),
                "Re-issue the certificate (and intermediates) with SHA-256 or stronger; SHA-1 and MD5 signatures are rejected by Microsoft 365 and current TLS stacks.",
            );
        }
    }
    Check::pass("cert.signature", signature_name(&parsed[0].cert.signature_algorithm.algorithm.to_id_string()))
}

fn check_usage(leaf: &X509Certificate<'_>, profile: Profile) -> Check {
    let eku = match leaf.extended_key_usage() {
        Ok(Some(e)) => e.value,
        Ok(None) => return Check::pass("cert.usage", "no extended key usage: any use allowed"),
        Err(e) => {
            return Check::fail(
                "cert.usage",
                format!("bad extended key usage extension: {e}"),
                "Re-issue the certificate.",
            )
        }
    };
    let mut uses = Vec::new();
    if eku.server_auth {
        uses.push("server");
    }
    if eku.client_auth {
        uses.push("client");
    }
    let detail = format!(
        "extended key usage: {}",
        if uses.is_empty() { "neither server nor client".into() } else { uses.join(", ") }
    );
    if !eku.server_auth && !eku.any {
        return Check::fail(
            "cert.usage",
            detail,
            "Re-issue the certificate with the Server Authentication extended key usage (1.3.6.1.5.5.7.3.1).",
        );
    }
    if profile == Profile::DirectRouting && !eku.client_auth && !eku.any {
        return Check::warn(
            "cert.usage",
            detail,
            "The SBC also presents this certificate as a TLS client to Microsoft's SIP proxies: request both Server and Client Authentication usages at the next renewal.",
        );
    }
    Check::pass("cert.usage", detail)
}

/// The content of a DER SEQUENCE, or the bytes as given when they are not one.
fn strip_sequence(der: &[u8]) -> &[u8] {
    let mut r = crate::der::Reader::new(der);
    match r.expect(crate::der::SEQUENCE) {
        Ok(inner) if r.is_empty() => inner,
        _ => der,
    }
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.com", "sbc.example.com"));
        assert!(!name_matches("*.example.com", "a.sbc.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("SBC.example.com", "sbc.EXAMPLE.com."));
    }
}

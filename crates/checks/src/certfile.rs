//! `check cert`: the certificate checks offline on a PEM, DER or PKCS#12 file.

use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::certinfo::{self, Expectations, TrustStores};
use crate::pkcs12::{self, Mac, Pkcs12Error};
use crate::tls::profile_name;
use crate::{CertArgs, Check, Error, Profile, Report};

/// What the file turned out to be.
enum Contents {
    Certs { format: &'static str, certs: Vec<Vec<u8>>, keys: Vec<String> },
    Pfx(pkcs12::Pfx),
}

pub fn check(args: &CertArgs) -> Result<Report, Error> {
    let path = &args.file;
    let data = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let trust = TrustStores::load(&args.trust)?;
    let password = args.password.as_deref().unwrap_or("");
    let mut report = Report::new(format!(
        "cert {} (name {}, profile {})",
        path.display(),
        args.name.as_deref().unwrap_or("-"),
        profile_name(args.profile)
    ));
    let contents = match read(&data, password) {
        Ok(c) => c,
        Err(ReadError::Pkcs12(Pkcs12Error::WrongPassword)) => {
            report.push(Check::fail(
                "p12.password",
                "the password does not open the file (its integrity check fails)",
                "Give the password set at export with --password; re-export the PFX if it is lost.",
            ));
            return Ok(report);
        }
        Err(ReadError::Pkcs12(e)) => return Err(Error::parse(path, e.to_string())),
        Err(ReadError::Other(m)) => return Err(Error::parse(path, m)),
    };
    let certs = match contents {
        Contents::Certs { format, certs, keys } => {
            let mut detail = format!("{format}: {} certificate(s)", certs.len());
            if !keys.is_empty() {
                detail.push_str(&format!(", private key(s): {}", keys.join(", ")));
            }
            report.push(Check::pass("file.format", detail));
            certs
        }
        Contents::Pfx(pfx) => {
            pfx_checks(&pfx, args.profile, &mut report);
            pfx.certs
        }
    };
    if certs.is_empty() {
        report.push(Check::fail(
            "cert.chain",
            "the file holds no certificate",
            "Export the certificate itself (with its chain) into the file.",
        ));
        return Ok(report);
    }
    let chain = order_chain(&certs);
    certinfo::inspect(&chain, Expectations { name: args.name.as_deref(), profile: args.profile }, &trust, &mut report);
    Ok(report)
}

enum ReadError {
    Pkcs12(Pkcs12Error),
    Other(String),
}

fn read(data: &[u8], password: &str) -> Result<Contents, ReadError> {
    let head = &data[..data.len().min(4096)];
    if String::from_utf8_lossy(head).contains("-----BEGIN") {
        let mut certs = Vec::new();
        let mut keys = Vec::new();
        for pem in x509_parser::pem::Pem::iter_from_buffer(data) {
            let pem = pem.map_err(|e| ReadError::Other(format!("bad PEM: {e}")))?;
            match pem.label.as_str() {
                "CERTIFICATE" => certs.push(pem.contents),
                "RSA PRIVATE KEY" => keys.push("RSA".to_string()),
                "EC PRIVATE KEY" => keys.push("EC".to_string()),
                "PRIVATE KEY" => keys.push("PKCS#8".to_string()),
                "ENCRYPTED PRIVATE KEY" => keys.push("encrypted PKCS#8".to_string()),
                _ => {}
            }
        }
        return Ok(Contents::Certs { format: "PEM", certs, keys });
    }
    if X509Certificate::from_der(data).is_ok() {
        return Ok(Contents::Certs { format: "DER", certs: vec![data.to_vec()], keys: Vec::new() });
    }
    match pkcs12::parse(data, password) {
        Ok(pfx) => Ok(Contents::Pfx(pfx)),
        Err(Pkcs12Error::NotPkcs12(_)) => {
            Err(ReadError::Other("not a PEM, DER or PKCS#12 certificate file".to_string()))
        }
        Err(e) => Err(ReadError::Pkcs12(e)),
    }
}

fn pfx_checks(pfx: &pkcs12::Pfx, profile: Profile, report: &mut Report) {
    let mac = match &pfx.mac {
        Mac::Verified(alg) => format!("integrity {alg} verified"),
        Mac::Absent => "no integrity MAC".to_string(),
        Mac::Unsupported(what) => format!("integrity not checked ({what})"),
    };
    let mut detail = format!("PKCS#12: {} certificate(s), {} key(s), {mac}", pfx.certs.len(), pfx.keys.len());
    for u in &pfx.unreadable {
        detail.push_str(&format!("\nnot read: {u}"));
    }
    report.push(Check::pass("file.format", detail));
    if pfx.keys.is_empty() {
        report.push(Check::fail(
            "p12.key",
            "the file holds no private key",
            "Export the certificate with its private key (\"Yes, export the private key\" in the Windows export wizard).",
        ));
        return;
    }
    report.push(Check::pass(
        "p12.key",
        format!(
            "{} private key(s), {}",
            pfx.keys.len(),
            if pfx.keys.iter().all(|k| k.shrouded) { "encrypted" } else { "some in clear" }
        ),
    ));
    let providers: Vec<&str> = pfx.keys.iter().filter_map(|k| k.provider.as_deref()).collect();
    let csp_fix = "Import the certificate into a CryptoAPI CSP and export the PFX again, for example certutil -csp \"Microsoft Enhanced RSA and AES Cryptographic Provider\" -importPFX FILE.pfx, then export it with its private key; or rebuild it with openssl pkcs12 -export -CSP \"Microsoft Enhanced RSA and AES Cryptographic Provider\".";
    if let Some(ksp) = providers.iter().find(|p| pkcs12::is_cng_ksp(p)) {
        let detail = format!("the private key is stored in a CNG Key Storage Provider ({ksp})");
        report.push(if profile == Profile::Pexip {
            Check::fail(
                "p12.provider",
                format!("{detail}; the Pexip Teams Connector supports only a CryptoAPI CSP"),
                csp_fix,
            )
        } else {
            Check::pass("p12.provider", detail)
        });
    } else if let Some(csp) = providers.first() {
        report.push(Check::pass("p12.provider", format!("the private key is stored in a CryptoAPI CSP ({csp})")));
    } else if profile == Profile::Pexip {
        report.push(Check::warn(
            "p12.provider",
            "the file names no key provider: Windows will choose one at import",
            "If the Teams Connector installer reports a CNG Key Storage Provider, re-export with a CryptoAPI CSP named (see the fix for p12.provider in the docs).",
        ));
    } else {
        report.push(Check::pass("p12.provider", "the file names no key provider"));
    }
}

/// Leaf first, then each issuer in turn; certificates that fit nowhere go last.
/// Subject, issuer and whether the certificate is a CA.
type Names = (Vec<u8>, Vec<u8>, bool);

fn order_chain(certs: &[Vec<u8>]) -> Vec<CertificateDer<'static>> {
    let parsed: Vec<Option<Names>> = certs
        .iter()
        .map(|d| {
            X509Certificate::from_der(d)
                .ok()
                .map(|(_, c)| (c.subject().as_raw().to_vec(), c.issuer().as_raw().to_vec(), c.is_ca()))
        })
        .collect();
    let issues_another = |i: usize| {
        parsed[i].as_ref().is_some_and(|(subject, _, _)| {
            parsed
                .iter()
                .enumerate()
                .any(|(j, p)| j != i && p.as_ref().is_some_and(|(s, iss, _)| iss == subject && s != iss))
        })
    };
    let leaf = (0..certs.len())
        .find(|&i| parsed[i].as_ref().is_some_and(|p| !p.2) && !issues_another(i))
        .or_else(|| (0..certs.len()).find(|&i| !issues_another(i)))
        .unwrap_or(0);
    let mut order = vec![leaf];
    while let Some(&last) = order.last() {
        let Some((subject, issuer, _)) = parsed[last].as_ref() else { break };
        if subject == issuer {
            break;
        }
        match (0..certs.len()).find(|&j| !order.contains(&j) && parsed[j].as_ref().is_some_and(|p| &p.0 == issuer)) {
            Some(j) => order.push(j),
            None => break,
        }
    }
    for i in 0..certs.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order.into_iter().map(|i| CertificateDer::from(certs[i].clone())).collect()
}

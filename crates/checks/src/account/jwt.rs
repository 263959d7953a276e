//! The client assertion of the certificate credential: a JWT signed RS256 with the app's key,
//! naming the certificate by its SHA-1 thumbprint (`x5t`), as Entra ID expects.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::json;

use crate::Error;

/// Seconds a client assertion stays valid.
const ASSERTION_LIFETIME: i64 = 600;

/// A certificate and its RSA key, read from one PEM file.
#[derive(Debug)]
pub struct SigningCert {
    thumbprint: String,
    key: RsaKeyPair,
}

impl SigningCert {
    /// Read a PEM file holding the certificate registered on the app and its RSA private key
    /// (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    pub fn from_pem_file(path: &Path) -> Result<SigningCert, Error> {
        let pem = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        let mut cert = None;
        let mut key = None;
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) if cert.is_none() => cert = Some(c.der().to_vec()),
                Ok(ureq::tls::PemItem::PrivateKey(k)) if key.is_none() => {
                    // PKCS#8 first, then PKCS#1; anything else (EC keys) is refused by both.
                    let parsed = RsaKeyPair::from_pkcs8(k.der()).or_else(|_| RsaKeyPair::from_der(k.der()));
                    key = Some(parsed.map_err(|e| Error::parse(path, format!("the private key is not an RSA key ring can sign with ({e}); Entra ID signs client assertions with RSA")))?);
                }
                Ok(_) => {}
                Err(e) => return Err(Error::parse(path, format!("not a PEM file: {e}"))),
            }
        }
        let cert = cert.ok_or_else(|| {
            Error::parse(path, "holds no certificate (the PEM file needs the certificate and its key)")
        })?;
        let key = key.ok_or_else(|| {
            Error::parse(path, "holds no private key (the PEM file needs the certificate and its key)")
        })?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        Ok(SigningCert { thumbprint: URL_SAFE_NO_PAD.encode(sha1), key })
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let now = crate::time::now_unix();
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(|_| "no system randomness".to_owned())?;
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint});
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| "the key could not sign the client assertion".to_owned())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

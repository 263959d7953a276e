//! PKCS#12 (.pfx / .p12) reading (RFC 7292): MAC check, certificate bags (decrypting PBES2/AES and
//! the legacy SHA-1 3DES and RC2 schemes) and the key bags' attributes, among them the Microsoft
//! key provider name (`1.3.6.1.4.1.311.17.1`) that tells a CryptoAPI CSP from a CNG KSP.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, InnerIvInit, KeyIvInit};
use ring::{digest, hmac, pbkdf2};

use crate::der::{self, Reader};

const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const OID_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const OID_X509_CERT: &str = "1.2.840.113549.1.9.22.1";
const OID_FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
const OID_KEY_PROVIDER: &str = "1.3.6.1.4.1.311.17.1";
const OID_SHA1: &str = "1.3.14.3.2.26";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_PBES2: &str = "1.2.840.113549.1.5.13";
const OID_PBKDF2: &str = "1.2.840.113549.1.5.12";
const OID_HMAC_SHA1: &str = "1.2.840.113549.2.7";
const OID_HMAC_SHA256: &str = "1.2.840.113549.2.9";
const OID_AES128_CBC: &str = "2.16.840.1.101.3.4.1.2";
const OID_AES256_CBC: &str = "2.16.840.1.101.3.4.1.42";
const OID_PBE_SHA1_3DES: &str = "1.2.840.113549.1.12.1.3";
const OID_PBE_SHA1_RC2_40: &str = "1.2.840.113549.1.12.1.6";
const OID_PBE_SHA1_RC2_128: &str = "1.2.840.113549.1.12.1.5";

/// A private-key bag and what its attributes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBag {
    /// The Microsoft key provider name attribute, when present.
    pub provider: Option<String>,
    pub friendly_name: Option<String>,
    /// Whether the key is encrypted (pkcs8ShroudedKeyBag) rather than in clear.
    pub shrouded: bool,
}

/// How the file's integrity MAC came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mac {
    Verified(&'static str),
    Absent,
    Unsupported(String),
}

/// What a PKCS#12 file holds.
#[derive(Debug, Clone)]
pub struct Pfx {
    pub certs: Vec<Vec<u8>>,
    pub keys: Vec<KeyBag>,
    pub mac: Mac,
    /// Encrypted parts that could not be opened (unsupported scheme), described.
    pub unreadable: Vec<String>,
}

/// Why a file could not be read as PKCS#12.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs12Error {
    NotPkcs12(String),
    WrongPassword,
    Corrupt(String),
}

impl std::fmt::Display for Pkcs12Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pkcs12Error::NotPkcs12(m) => write!(f, "not a PKCS#12 file ({m})"),
            Pkcs12Error::WrongPassword => write!(f, "the password is wrong (the integrity MAC does not verify)"),
            Pkcs12Error::Corrupt(m) => write!(f, "damaged PKCS#12 file: {m}"),
        }
    }
}

/// The password as PKCS#12 wants it for its own KDF: UTF-16BE with a two-byte terminator.
fn bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    out.extend_from_slice(&[0, 0]);
    out
}

/// The PKCS#12 key derivation (RFC 7292 appendix B.2).
pub fn kdf(
    alg: &'static digest::Algorithm,
    id: u8,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    len: usize,
) -> Vec<u8> {
    let u = alg.output_len();
    let v = alg.block_len();
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let n = v * src.len().div_ceil(v);
        src.iter().copied().cycle().take(n).collect()
    };
    let d = vec![id; v];
    let mut i: Vec<u8> = fill(salt);
    i.extend(fill(password));
    let mut out = Vec::with_capacity(len + u);
    while out.len() < len {
        let mut ctx = digest::Context::new(alg);
        ctx.update(&d);
        ctx.update(&i);
        let mut a = ctx.finish().as_ref().to_vec();
        for _ in 1..iterations {
            a = digest::digest(alg, &a).as_ref().to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() >= len {
            break;
        }
        let b: Vec<u8> = a.iter().copied().cycle().take(v).collect();
        for block in i.chunks_mut(v) {
            // block = (block + b + 1) mod 2^(v*8)
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().zip(&b).rev() {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(len);
    out
}

/// Read a PKCS#12 file with `password`.
pub fn parse(data: &[u8], password: &str) -> Result<Pfx, Pkcs12Error> {
    let not = |m: String| Pkcs12Error::NotPkcs12(m);
    let corrupt = |m: String| Pkcs12Error::Corrupt(m);
    let mut outer = Reader::new(data);
    let mut pfx = Reader::new(outer.expect(der::SEQUENCE).map_err(not)?);
    let version = pfx.small_uint().map_err(not)?;
    if version != 3 {
        return Err(not(format!("version {version}")));
    }
    let mut auth_safe = Reader::new(pfx.expect(der::SEQUENCE).map_err(not)?);
    if auth_safe.oid().map_err(not)? != OID_DATA {
        return Err(corrupt("the content is signed (public-key integrity mode), which is not supported".into()));
    }
    let mut explicit = Reader::new(auth_safe.expect(der::CONTEXT_0).map_err(corrupt)?);
    let content = explicit.expect(der::OCTET_STRING).map_err(corrupt)?;

    let mac = match pfx.optional(der::SEQUENCE).map_err(corrupt)? {
        None => Mac::Absent,
        Some(mac_data) => verify_mac(mac_data, content, password)?,
    };

    let mut result = Pfx { certs: Vec::new(), keys: Vec::new(), mac, unreadable: Vec::new() };
    let mut safes = Reader::new(Reader::new(content).expect(der::SEQUENCE).map_err(corrupt)?);
    while !safes.is_empty() {
        let mut info = Reader::new(safes.expect(der::SEQUENCE).map_err(corrupt)?);
        match info.oid().map_err(corrupt)?.as_str() {
            OID_DATA => {
                let mut explicit = Reader::new(info.expect(der::CONTEXT_0).map_err(corrupt)?);
                let bags = explicit.expect(der::OCTET_STRING).map_err(corrupt)?;
                read_safe_contents(bags, &mut result).map_err(corrupt)?;
            }
            OID_ENCRYPTED_DATA => {
                let mut explicit = Reader::new(info.expect(der::CONTEXT_0).map_err(corrupt)?);
                let mut enc_data = Reader::new(explicit.expect(der::SEQUENCE).map_err(corrupt)?);
                enc_data.small_uint().map_err(corrupt)?;
                let mut eci = Reader::new(enc_data.expect(der::SEQUENCE).map_err(corrupt)?);
                eci.oid().map_err(corrupt)?;
                let alg = eci.expect(der::SEQUENCE).map_err(corrupt)?;
                let ciphertext = match eci.any().map_err(corrupt)? {
                    der::Tlv { tag: der::CONTEXT_0_PRIMITIVE, content } => content.to_vec(),
                    // Constructed form: a series of OCTET STRING pieces.
                    der::Tlv { tag: der::CONTEXT_0, content } => {
                        let mut pieces = Reader::new(content);
                        let mut all = Vec::new();
                        while !pieces.is_empty() {
                            all.extend_from_slice(pieces.expect(der::OCTET_STRING).map_err(corrupt)?);
                        }
                        all
                    }
                    other => return Err(corrupt(format!("unexpected tag 0x{:02x} for encrypted content", other.tag))),
                };
                match decrypt(alg, &ciphertext, password) {
                    Ok(plain) => read_safe_contents(&plain, &mut result).map_err(corrupt)?,
                    Err(Decrypt::Unsupported(what)) => result.unreadable.push(what),
                    Err(Decrypt::Failed) => return Err(Pkcs12Error::WrongPassword),
                }
            }
            other => result.unreadable.push(format!("content of type {other}")),
        }
    }
    Ok(result)
}

fn verify_mac(mac_data: &[u8], content: &[u8], password: &str) -> Result<Mac, Pkcs12Error> {
    let corrupt = |m: String| Pkcs12Error::Corrupt(m);
    let mut r = Reader::new(mac_data);
    let mut digest_info = Reader::new(r.expect(der::SEQUENCE).map_err(corrupt)?);
    let mut alg = Reader::new(digest_info.expect(der::SEQUENCE).map_err(corrupt)?);
    let alg_oid = alg.oid().map_err(corrupt)?;
    let expected = digest_info.expect(der::OCTET_STRING).map_err(corrupt)?;
    let salt = r.expect(der::OCTET_STRING).map_err(corrupt)?;
    let iterations = if r.is_empty() { 1 } else { r.small_uint().map_err(corrupt)? };
    let iterations = u32::try_from(iterations).map_err(|_| corrupt("iteration count too large".into()))?;
    let (dig, hm, name) = match alg_oid.as_str() {
        OID_SHA1 => (&digest::SHA1_FOR_LEGACY_USE_ONLY, hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, "HMAC-SHA1"),
        OID_SHA256 => (&digest::SHA256, hmac::HMAC_SHA256, "HMAC-SHA256"),
        other => return Ok(Mac::Unsupported(format!("MAC algorithm {other}"))),
    };
    // Some tools encode an empty password as no bytes at all rather than a lone terminator.
    let candidates: Vec<Vec<u8>> =
        if password.is_empty() { vec![bmp_password(""), Vec::new()] } else { vec![bmp_password(password)] };
    for pw in candidates {
        let key = kdf(dig, 3, &pw, salt, iterations, dig.output_len());
        if hmac::verify(&hmac::Key::new(hm, &key), content, expected).is_ok() {
            return Ok(Mac::Verified(name));
        }
    }
    Err(Pkcs12Error::WrongPassword)
}

enum Decrypt {
    Unsupported(String),
    Failed,
}

fn decrypt(alg_der: &[u8], ciphertext: &[u8], password: &str) -> Result<Vec<u8>, Decrypt> {
    let bad = |_| Decrypt::Failed;
    let mut alg = Reader::new(alg_der);
    let oid = alg.oid().map_err(bad)?;
    let mut params = Reader::new(alg.expect(der::SEQUENCE).map_err(bad)?);
    match oid.as_str() {
        OID_PBE_SHA1_3DES | OID_PBE_SHA1_RC2_40 | OID_PBE_SHA1_RC2_128 => {
            let salt = params.expect(der::OCTET_STRING).map_err(bad)?;
            let iterations = u32::try_from(params.small_uint().map_err(bad)?).map_err(|_| Decrypt::Failed)?;
            let pw = bmp_password(password);
            let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
            let iv = kdf(sha1, 2, &pw, salt, iterations, 8);
            let mut buf = ciphertext.to_vec();
            let plain = if oid == OID_PBE_SHA1_3DES {
                {
                    let key = kdf(sha1, 1, &pw, salt, iterations, 24);
                    cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                        .map_err(|_| Decrypt::Failed)?
                        .decrypt_padded_mut::<Pkcs7>(&mut buf)
                        .map_err(|_| Decrypt::Failed)?
                        .to_vec()
                }
            } else {
                {
                    let bits = if oid == OID_PBE_SHA1_RC2_40 { 40 } else { 128 };
                    let key = kdf(sha1, 1, &pw, salt, iterations, bits / 8);
                    let cipher = rc2::Rc2::new_with_eff_key_len(&key, bits);
                    cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, &iv)
                        .map_err(|_| Decrypt::Failed)?
                        .decrypt_padded_mut::<Pkcs7>(&mut buf)
                        .map_err(|_| Decrypt::Failed)?
                        .to_vec()
                }
            };
            Ok(plain)
        }
        OID_PBES2 => {
            let mut kdf_alg = Reader::new(params.expect(der::SEQUENCE).map_err(bad)?);
            if kdf_alg.oid().map_err(bad)? != OID_PBKDF2 {
                return Err(Decrypt::Unsupported("a PBES2 key derivation other than PBKDF2".into()));
            }
            let mut kp = Reader::new(kdf_alg.expect(der::SEQUENCE).map_err(bad)?);
            let salt = kp.expect(der::OCTET_STRING).map_err(bad)?;
            let iterations = u32::try_from(kp.small_uint().map_err(bad)?).map_err(|_| Decrypt::Failed)?;
            let _key_len = kp.optional(der::INTEGER).map_err(bad)?;
            let prf = match kp.optional(der::SEQUENCE).map_err(bad)? {
                None => OID_HMAC_SHA1.to_string(),
                Some(p) => Reader::new(p).oid().map_err(bad)?,
            };
            let prf = match prf.as_str() {
                OID_HMAC_SHA1 => pbkdf2::PBKDF2_HMAC_SHA1,
                OID_HMAC_SHA256 => pbkdf2::PBKDF2_HMAC_SHA256,
                other => return Err(Decrypt::Unsupported(format!("PBKDF2 with PRF {other}"))),
            };
            let mut enc = Reader::new(params.expect(der::SEQUENCE).map_err(bad)?);
            let enc_oid = enc.oid().map_err(bad)?;
            let iv = enc.expect(der::OCTET_STRING).map_err(bad)?;
            let key_len = match enc_oid.as_str() {
                OID_AES128_CBC => 16,
                OID_AES256_CBC => 32,
                other => return Err(Decrypt::Unsupported(format!("PBES2 cipher {other}"))),
            };
            let iterations = std::num::NonZeroU32::new(iterations).ok_or(Decrypt::Failed)?;
            let mut key = vec![0u8; key_len];
            pbkdf2::derive(prf, iterations, salt, password.as_bytes(), &mut key);
            let mut buf = ciphertext.to_vec();
            let plain = if key_len == 16 {
                cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, iv)
                    .map_err(|_| Decrypt::Failed)?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf)
                    .map_err(|_| Decrypt::Failed)?
                    .to_vec()
            } else {
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, iv)
                    .map_err(|_| Decrypt::Failed)?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf)
                    .map_err(|_| Decrypt::Failed)?
                    .to_vec()
            };
            Ok(plain)
        }
        other => Err(Decrypt::Unsupported(format!("encryption scheme {other}"))),
    }
}

fn read_safe_contents(data: &[u8], out: &mut Pfx) -> Result<(), String> {
    let mut bags = Reader::new(Reader::new(data).expect(der::SEQUENCE)?);
    while !bags.is_empty() {
        let mut bag = Reader::new(bags.expect(der::SEQUENCE)?);
        let bag_id = bag.oid()?;
        let value = bag.expect(der::CONTEXT_0)?;
        let attributes = bag.optional(der::SET)?.map(read_attributes).transpose()?.unwrap_or_default();
        match bag_id.as_str() {
            OID_CERT_BAG => {
                let mut cert_bag = Reader::new(Reader::new(value).expect(der::SEQUENCE)?);
                if cert_bag.oid()? == OID_X509_CERT {
                    let mut explicit = Reader::new(cert_bag.expect(der::CONTEXT_0)?);
                    out.certs.push(explicit.expect(der::OCTET_STRING)?.to_vec());
                }
            }
            OID_KEY_BAG | OID_SHROUDED_KEY_BAG => {
                let find = |oid: &str| attributes.iter().find(|(o, _)| o == oid).map(|(_, v)| v.clone());
                out.keys.push(KeyBag {
                    provider: find(OID_KEY_PROVIDER),
                    friendly_name: find(OID_FRIENDLY_NAME),
                    shrouded: bag_id == OID_SHROUDED_KEY_BAG,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Attributes whose first value is a string (BMP or UTF-8), as (OID, text).
fn read_attributes(set: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut r = Reader::new(set);
    while !r.is_empty() {
        let mut attr = Reader::new(r.expect(der::SEQUENCE)?);
        let oid = attr.oid()?;
        let mut values = Reader::new(attr.expect(der::SET)?);
        if values.is_empty() {
            continue;
        }
        let v = values.any()?;
        let text = match v.tag {
            der::BMP_STRING => der::bmp_to_string(v.content),
            der::UTF8_STRING => String::from_utf8_lossy(v.content).into_owned(),
            _ => continue,
        };
        out.push((oid, text));
    }
    Ok(out)
}

/// Whether a provider name is a CNG Key Storage Provider (as opposed to a CryptoAPI CSP).
pub fn is_cng_ksp(provider: &str) -> bool {
    provider.to_ascii_lowercase().contains("key storage provider")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_matches_known_vector() {
        // Widely published PKCS#12 KDF vector: password "smeg", salt 0A58CF64530D823F,
        // 1 iteration, ID 1, 24 bytes.
        let salt = [0x0a, 0x58, 0xcf, 0x64, 0x53, 0x0d, 0x82, 0x3f];
        let key = kdf(&digest::SHA1_FOR_LEGACY_USE_ONLY, 1, &bmp_password("smeg"), &salt, 1, 24);
        let expected = [
            0x8a, 0xaa, 0xe6, 0x29, 0x7b, 0x6c, 0xb0, 0x46, 0x42, 0xab, 0x5b, 0x07, 0x78, 0x51, 0x28, 0x4e, 0xb7, 0x12,
            0x8f, 0x1a, 0x2a, 0x7f, 0xbc, 0xa3,
        ];
        assert_eq!(key, expected);
    }

    #[test]
    fn providers() {
        assert!(is_cng_ksp("Microsoft Software Key Storage Provider"));
        assert!(!is_cng_ksp("Microsoft Enhanced RSA and AES Cryptographic Provider"));
    }

    #[test]
    fn rejects_other_data() {
        assert!(matches!(parse(b"not der", ""), Err(Pkcs12Error::NotPkcs12(_))));
    }
}

//! Secrets the server must use later (webhook signing secrets, Teams Workflows URLs) cannot be
//! hashed: they are sealed with AES-256-GCM under a key kept in the data folder (`secret.key`,
//! created on first start, readable by the owner only) and never shown whole again.

use std::path::Path;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug)]
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// Load the key file, creating it when missing.
    pub fn open(path: &Path) -> std::io::Result<Sealer> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = vec![0u8; 32];
                SystemRandom::new().fill(&mut b).map_err(|_| std::io::Error::other("no system randomness"))?;
                write_private(path, &b)?;
                b
            }
            Err(e) => return Err(e),
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| std::io::Error::other(format!("{}: not a 32-byte key", path.display())))?;
        Ok(Sealer { key: LessSafeKey::new(key) })
    }

    /// Nonce followed by the ciphertext and tag; `name` is bound in as associated data.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).expect("the system random source works");
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(name.as_bytes()), &mut buf)
            .expect("sealing a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend(buf);
        out
    }

    pub fn open_sealed(&self, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (n, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).ok()?;
        let mut buf = rest.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(name.as_bytes()), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

/// Show a secret without revealing it: its first characters and length.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(12).collect();
    format!("{head}… ({} characters)", secret.chars().count())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_under_the_same_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::open(&dir.path().join("secret.key")).unwrap();
        let url = "https://prod.example/workflows/abc?sig=SECRET";
        let sealed = s.seal("webhook:ops", url.as_bytes());
        assert!(!sealed.windows(6).any(|w| w == b"SECRET"));
        let again = Sealer::open(&dir.path().join("secret.key")).unwrap();
        assert_eq!(again.open_sealed("webhook:ops", &sealed).unwrap(), url.as_bytes());
        assert!(again.open_sealed("webhook:other", &sealed).is_none());
        assert!(!mask(url).contains("SECRET"));
    }
}

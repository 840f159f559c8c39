//! Secrets at rest (provider API keys) are sealed with ChaCha20-Poly1305.
//! The key comes from ATRIUM_SECRET_KEY, or is generated once into the data
//! directory for the embedded default.

use super::audit_key::AuditKeys;
use super::report_key::ReportKeys;
use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use thiserror::Error;

const PREFIX: &str = "enc:v1:";
const KEY_FILE: &str = "secret.key";

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("ATRIUM_SECRET_KEY must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("cannot read or create the secret key file {0}: {1}")]
    KeyFile(String, std::io::Error),
    #[error("a stored secret cannot be decrypted with this ATRIUM_SECRET_KEY")]
    Undecryptable,
    #[error("a secret could not be sealed")]
    Unsealable,
    #[error("a webhook secret must be whsec_ and base64")]
    BadWebhookSecret,
    #[error("password hashing failed: {0}")]
    Password(String),
    #[error("too many sign-ins are being checked; try again in a few seconds")]
    Busy,
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// The audit trail's keys, derived from the same secret.
    audit: std::sync::Arc<AuditKeys>,
    /// Report signing and subject-index keys, from the same secret.
    reports: std::sync::Arc<ReportKeys>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn from_hex(hex_key: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
            audit: std::sync::Arc::new(AuditKeys::derive(&bytes)),
            reports: std::sync::Arc::new(ReportKeys::derive(&bytes)),
        })
    }

    /// Keeps earlier secrets for verifying audit links made under them.
    pub fn with_retired_audit_keys(mut self, retired: &[String]) -> Result<Self, CryptoError> {
        let keys = (*self.audit).clone().with_retired(retired)?;
        self.audit = std::sync::Arc::new(keys);
        let mut reports = (*self.reports).clone();
        for hex_key in retired.iter().filter(|k| !k.trim().is_empty()) {
            // Checked by `with_retired` above.
            let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey)?;
            reports.retire(&bytes);
        }
        self.reports = std::sync::Arc::new(reports);
        Ok(self)
    }

    /// Report signing and subject-index keys.
    pub fn reports(&self) -> &ReportKeys {
        &self.reports
    }

    pub fn audit(&self) -> &AuditKeys {
        &self.audit
    }

    /// The configured key, or the one kept in `<data_dir>/secret.key`.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, CryptoError> {
        if let Some(k) = configured.filter(|k| !k.trim().is_empty()) {
            return Self::from_hex(k);
        }
        let path = data_dir.join(KEY_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(k) => Self::from_hex(&k),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::server::db::create_private_dir(data_dir)
                    .map_err(|e| CryptoError::KeyFile(shown.clone(), e))?;
                let mut key = [0u8; 32];
                OsRng.fill_bytes(&mut key);
                write_private(&path, &hex::encode(key))
                    .map_err(|e| CryptoError::KeyFile(shown, e))?;
                Self::from_hex(&hex::encode(key))
            }
            Err(e) => Err(CryptoError::KeyFile(shown, e)),
        }
    }

    pub fn seal(&self, plaintext: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| CryptoError::Unsealable)?;
        Ok(format!(
            "{PREFIX}{}:{}",
            hex::encode(nonce),
            hex::encode(ct)
        ))
    }

    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let rest = sealed
            .strip_prefix(PREFIX)
            .ok_or(CryptoError::Undecryptable)?;
        let (nonce, ct) = rest.split_once(':').ok_or(CryptoError::Undecryptable)?;
        let nonce = hex::decode(nonce).map_err(|_| CryptoError::Undecryptable)?;
        let ct = hex::decode(ct).map_err(|_| CryptoError::Undecryptable)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Undecryptable);
        }
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), ct.as_slice())
            .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(pt).map_err(|_| CryptoError::Undecryptable)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let b = SecretBox::from_hex(&"ab".repeat(32)).expect("key");
        let sealed = b.seal("sk-secret").expect("seal");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("sk-secret"));
        assert_eq!(b.open(&sealed).expect("open"), "sk-secret");
        assert_ne!(
            b.seal("sk-secret").expect("seal"),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let a = SecretBox::from_hex(&"ab".repeat(32)).expect("key");
        let b = SecretBox::from_hex(&"cd".repeat(32)).expect("key");
        let sealed = a.seal("x").expect("seal");
        assert!(b.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('0');
        assert!(a.open(&tampered).is_err() || tampered == sealed);
        assert!(SecretBox::from_hex("short").is_err());
    }

    #[test]
    fn generates_and_reuses_a_key_file() {
        let dir = tempfile::tempdir().expect("dir");
        let a = SecretBox::load(None, dir.path()).expect("generate");
        let b = SecretBox::load(None, dir.path()).expect("reuse");
        assert_eq!(b.open(&a.seal("v").expect("seal")).expect("open"), "v");
    }
}

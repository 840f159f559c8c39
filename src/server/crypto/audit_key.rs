//! Keys for the audit trail, derived from `ATRIUM_SECRET_KEY` and never
//! stored in the database: whoever can write the database can still not
//! forge a chain link (HMAC-SHA256) or a chain checkpoint (Ed25519).
//!
//! Each link stores the id of the key that made it, so the secret can be
//! rotated: the old secret goes into `ATRIUM_AUDIT_RETIRED_KEYS` and links
//! made under it still verify.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{mac, CryptoError};

/// The key that links one chain event to the one before it.
#[derive(Clone)]
pub struct ChainKey {
    pub id: String,
    key: [u8; 32],
}

impl ChainKey {
    fn derive(master: &[u8]) -> Self {
        let key = mac(master, &[b"atrium audit chain v1"]);
        let id = hex::encode(&Sha256::digest(key)[..8]);
        ChainKey { id, key }
    }

    pub fn link_hash(&self, prev_hash: &str, canonical: &str) -> String {
        hex::encode(mac(
            &self.key,
            &[prev_hash.as_bytes(), canonical.as_bytes()],
        ))
    }
}

/// The current chain key, retired ones (for verifying old links) and the
/// checkpoint signing key.
#[derive(Clone)]
pub struct AuditKeys {
    pub current: ChainKey,
    retired: Vec<ChainKey>,
    signer: SigningKey,
}

impl AuditKeys {
    pub fn derive(master: &[u8]) -> Self {
        let seed = mac(master, &[b"atrium audit checkpoint v1"]);
        AuditKeys {
            current: ChainKey::derive(master),
            retired: Vec::new(),
            signer: SigningKey::from_bytes(&seed),
        }
    }

    /// Adds retired secrets (64 hex characters each).
    pub fn with_retired(mut self, retired: &[String]) -> Result<Self, CryptoError> {
        for hex_key in retired.iter().filter(|k| !k.trim().is_empty()) {
            let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadKey)?;
            if bytes.len() != 32 {
                return Err(CryptoError::BadKey);
            }
            self.retired.push(ChainKey::derive(&bytes));
        }
        Ok(self)
    }

    /// The chain key with this id, current or retired.
    pub fn chain_key(&self, id: &str) -> Option<&ChainKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }

    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.signer.sign(message).to_bytes())
    }

    pub fn public_key(&self) -> String {
        hex::encode(self.signer.verifying_key().to_bytes())
    }

    /// Whether `signature` (hex) is this deployment's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        let key: VerifyingKey = self.signer.verifying_key();
        key.verify(message, &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_depend_on_the_secret_and_old_keys_still_verify() {
        let (a, b) = (AuditKeys::derive(&[1; 32]), AuditKeys::derive(&[2; 32]));
        assert_ne!(a.current.id, b.current.id);
        assert_ne!(a.current.link_hash("p", "e"), b.current.link_hash("p", "e"));
        let rotated = b.with_retired(&[hex::encode([1u8; 32])]).expect("retired");
        let old = rotated.chain_key(&a.current.id).expect("old key kept");
        assert_eq!(old.link_hash("p", "e"), a.current.link_hash("p", "e"));
        assert!(AuditKeys::derive(&[3; 32])
            .with_retired(&["zz".into()])
            .is_err());
    }

    #[test]
    fn checkpoints_verify_only_under_the_deployments_key() {
        let (a, b) = (AuditKeys::derive(&[1; 32]), AuditKeys::derive(&[2; 32]));
        let sig = a.sign(b"heads");
        assert!(a.verify(b"heads", &sig));
        assert!(!a.verify(b"heads!", &sig));
        assert!(!b.verify(b"heads", &sig));
        assert!(!a.verify(b"heads", "not hex"));
    }
}

//! Keys for compliance evidence, derived from `ATRIUM_SECRET_KEY` like the
//! audit keys: the Ed25519 key that signs reports, and the root of each
//! tenant's subject-index key. Retired secrets (`ATRIUM_AUDIT_RETIRED_KEYS`)
//! still verify reports they signed and still find subjects they indexed.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::mac;

/// One secret's report signer and subject root.
#[derive(Clone)]
struct Generation {
    signer: SigningKey,
    subject_root: [u8; 32],
}

impl Generation {
    fn derive(master: &[u8]) -> Self {
        Generation {
            signer: SigningKey::from_bytes(&mac(master, &[b"atrium report signing v1"])),
            subject_root: mac(master, &[b"atrium subject index v1"]),
        }
    }

    fn public(&self) -> VerifyingKey {
        self.signer.verifying_key()
    }
}

/// A signature with what a verifier needs to find the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

/// The current generation first, then retired ones.
#[derive(Clone)]
pub struct ReportKeys {
    generations: Vec<Generation>,
}

/// A key's id: the first 8 bytes of the SHA-256 of the public key, in hex.
pub fn key_id(public: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(public.to_bytes())[..8])
}

impl ReportKeys {
    pub fn derive(master: &[u8]) -> Self {
        ReportKeys {
            generations: vec![Generation::derive(master)],
        }
    }

    /// Adds a retired secret (32 bytes).
    pub fn retire(&mut self, master: &[u8]) {
        self.generations.push(Generation::derive(master));
    }

    fn current(&self) -> &Generation {
        &self.generations[0]
    }

    pub fn sign(&self, message: &[u8]) -> Signed {
        let g = self.current();
        Signed {
            key_id: key_id(&g.public()),
            public_key: hex::encode(g.public().to_bytes()),
            signature: hex::encode(g.signer.sign(message).to_bytes()),
        }
    }

    /// The current public key and its id.
    pub fn public_key(&self) -> (String, String) {
        let public = self.current().public();
        (key_id(&public), hex::encode(public.to_bytes()))
    }

    /// Whether `signed` is a signature of `message` by one of this
    /// deployment's keys, current or retired. The embedded public key must
    /// be ours: anyone can sign with a key of their own.
    pub fn verify(&self, message: &[u8], signed: &Signed) -> bool {
        let Some(g) = self
            .generations
            .iter()
            .find(|g| key_id(&g.public()) == signed.key_id)
        else {
            return false;
        };
        if hex::encode(g.public().to_bytes()) != signed.public_key {
            return false;
        }
        let Ok(bytes) = hex::decode(&signed.signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        g.public().verify(message, &sig).is_ok()
    }

    /// The tenant's subject hash of a normalised identifier, under the
    /// current key: different tenants get different hashes of one e-mail.
    pub fn subject_hash(&self, tenant_id: &str, normalised: &str) -> String {
        subject_hash(&self.current().subject_root, tenant_id, normalised)
    }

    /// The hashes the identifier may be indexed under: current and retired.
    pub fn subject_hashes(&self, tenant_id: &str, normalised: &str) -> Vec<String> {
        self.generations
            .iter()
            .map(|g| subject_hash(&g.subject_root, tenant_id, normalised))
            .collect()
    }
}

fn subject_hash(root: &[u8; 32], tenant_id: &str, normalised: &str) -> String {
    let tenant_key = mac(root, &[tenant_id.as_bytes()]);
    hex::encode(mac(&tenant_key, &[normalised.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_verify_under_current_and_retired_keys_only() {
        let old = ReportKeys::derive(&[1; 32]);
        let signed = old.sign(b"body");
        assert!(old.verify(b"body", &signed));
        assert!(!old.verify(b"bodY", &signed));
        let mut rotated = ReportKeys::derive(&[2; 32]);
        assert!(!rotated.verify(b"body", &signed), "not ours before");
        rotated.retire(&[1; 32]);
        assert!(rotated.verify(b"body", &signed), "retired key verifies");
        assert_ne!(rotated.sign(b"body").key_id, signed.key_id);
        let stranger = ReportKeys::derive(&[3; 32]).sign(b"body");
        let forged = Signed {
            key_id: signed.key_id.clone(),
            ..stranger
        };
        assert!(!rotated.verify(b"body", &forged));
    }

    #[test]
    fn subject_hashes_differ_per_tenant_and_survive_rotation() {
        let keys = ReportKeys::derive(&[1; 32]);
        let a = keys.subject_hash("t1", "alice@example.com");
        assert_eq!(a.len(), 64);
        assert_ne!(a, keys.subject_hash("t2", "alice@example.com"));
        let mut rotated = ReportKeys::derive(&[2; 32]);
        rotated.retire(&[1; 32]);
        assert!(rotated
            .subject_hashes("t1", "alice@example.com")
            .contains(&a));
    }
}

//! argon2id with the crate's defaults (19 MiB, 2 passes), run off the async
//! threads because each hash takes tens of milliseconds by design.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::CryptoError;

/// Each argon2 run holds 19 MiB and a core for tens of milliseconds, so a
/// flood of sign-ins from many addresses could exhaust memory and the
/// blocking pool. At most one run per core; the rest wait their turn.
static RUNS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// How long a caller waits for a free core before being told to retry.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

async fn permit() -> Result<SemaphorePermit<'static>, CryptoError> {
    match tokio::time::timeout(QUEUE_WAIT, RUNS.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        _ => Err(CryptoError::Busy),
    }
}

pub async fn hash(password: &str) -> Result<String, CryptoError> {
    let password = password.to_owned();
    let _permit = permit().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CryptoError::Password(e.to_string()))
    })
    .await
    .map_err(|e| CryptoError::Password(e.to_string()))?
}

/// Whether `password` matches `stored`. A stored value that is not a hash
/// never matches; only a full queue is an error.
pub async fn verify(password: &str, stored: &str) -> Result<bool, CryptoError> {
    let password = password.to_owned();
    let stored = stored.to_owned();
    let _permit = permit().await?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .map_err(|e| CryptoError::Password(e.to_string()))
}

/// A strong password for the generated first admin: 24 characters from an
/// alphabet without look-alikes.
pub fn generate() -> String {
    use argon2::password_hash::rand_core::RngCore;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse battery staple").await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &h)
            .await
            .expect("run"));
        assert!(!verify("wrong horse", &h).await.expect("run"));
        assert!(!verify("x", "not a hash").await.expect("run"));
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }
}

//! Signatures for outgoing webhooks, as the Standard Webhooks specification
//! (standardwebhooks.com) defines them, so receivers verify with its
//! libraries: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
//! under a `whsec_<base64>` secret.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CryptoError;

const PREFIX: &str = "whsec_";

/// A fresh signing secret: 24 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    OsRng.fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header value for one delivery.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, CryptoError> {
    let key = STANDARD
        .decode(secret.strip_prefix(PREFIX).unwrap_or(secret))
        .map_err(|_| CryptoError::BadWebhookSecret)?;
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|_| CryptoError::BadWebhookSecret)?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (standard-webhooks, spec/standard-webhooks.md).
    #[test]
    fn matches_the_specifications_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).expect("signs");
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_fresh() {
        assert_ne!(new_secret(), new_secret());
        assert!(new_secret().starts_with(PREFIX));
    }
}

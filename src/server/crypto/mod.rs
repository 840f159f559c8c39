//! Every hash and key the server handles, in one place: sealing secrets at
//! rest, hashing tokens (API keys, sessions) and passwords.

pub mod audit_key;
pub mod password;
pub mod report_key;
pub mod secret_box;
pub mod token;
pub mod totp;
pub mod webhook;

pub use secret_box::{CryptoError, SecretBox};

/// HMAC-SHA256 under `key` of the parts, in order: how every derived key
/// and audit link is made.
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // HMAC accepts a key of any length, so this cannot fail.
    let mut m =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

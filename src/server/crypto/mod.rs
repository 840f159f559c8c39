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

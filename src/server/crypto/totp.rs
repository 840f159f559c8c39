//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA1,
//! 30-second steps, 6 digits), as authenticator apps expect; one-time
//! recovery codes for a lost device.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECS: u64 = 30;
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now: a clock a little off still works.
const WINDOW: u64 = 1;

/// A fresh 160-bit secret, the size RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    OsRng.fill_bytes(&mut s);
    s
}

pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

pub fn from_base32(s: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD
        .decode(
            s.trim()
                .trim_end_matches('=')
                .to_ascii_uppercase()
                .as_bytes(),
        )
        .ok()
}

/// What an authenticator app scans.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    let account: String = account
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+'))
        .collect();
    format!(
        "otpauth://totp/Atrium:{account}?secret={}&issuer=Atrium&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        base32(secret)
    )
}

/// HOTP (RFC 4226 §5.3): dynamic truncation of HMAC-SHA1(secret, counter).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    let code = bin % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The step a code matches within the window around `now_secs`, if any
/// and if later than `last_step` (a code is used once).
pub fn verify(secret: &[u8], code: &str, now_secs: u64, last_step: Option<u64>) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let now = now_secs / STEP_SECS;
    (now.saturating_sub(WINDOW)..=now + WINDOW)
        .filter(|s| last_step.is_none_or(|l| *s > l))
        .find(|s| same(&hotp(secret, *s, DIGITS), &code))
}

/// Compares in time independent of where the codes differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

/// Ten recovery codes, `xxxx-xxxx-xxxx` hex, shown once and stored hashed.
pub fn recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let h = super::token::random_hex(6);
            format!("{}-{}-{}", &h[..4], &h[4..8], &h[8..])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits, 30-second steps).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(secret, t / STEP_SECS, 8), code, "T = {t}");
        }
    }

    #[test]
    fn codes_verify_once_within_the_window() {
        let secret = new_secret();
        let now = 1_700_000_000u64;
        let code = hotp(&secret, now / STEP_SECS, DIGITS);
        let step = verify(&secret, &code, now, None).expect("valid");
        assert_eq!(verify(&secret, &code, now, Some(step)), None, "replayed");
        assert!(
            verify(&secret, &code, now + STEP_SECS, None).is_some(),
            "a step late"
        );
        assert_eq!(verify(&secret, &code, now + 3 * STEP_SECS, None), None);
        assert_eq!(verify(&secret, "12345", now, None), None);
        assert_eq!(from_base32(&base32(&secret)), Some(secret));
        assert!(otpauth_uri(b"x", "a b@c.io").contains("Atrium:ab@c.io?secret="));
    }
}

//! Recognizers that search text: e-mail, IBAN, IP addresses and secrets.

use std::sync::LazyLock;

use regex::Regex;

use super::{at, byte_at, clean_end, clean_start, hits, push, Ranges};
use crate::domain::pii::{context, validators, EntityType, Span};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    // Internationalised local parts and domains (RFC 6531) are letters too.
    re(
        r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)*\.[\p{L}]{2,24}",
    )
});
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"));
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z ]{0,20} PRIVATE KEY-----|\z)",
        r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",
        r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
        r"|sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{20,}",
        r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}",
        r"|github_pat_[A-Za-z0-9_]{22,}",
        r"|glpat-[A-Za-z0-9_\-]{20}",
        r"|xox[baprs]-[A-Za-z0-9\-]{10,}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}",
        r"|atr_[0-9a-f]{8,}_[A-Za-z0-9_\-]{16,}",
        // `name = value` credentials, in the same pass (the value is cut out after).
        r#"|(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|secret_access_key|client_secret|CLIENT_SECRET"#,
        r#"|api_key|apiKey|API_KEY|api-key|apikey|password|Password|PASSWORD|passwd|token|Token|TOKEN)"#,
        r#"["']?\s*[:=]\s*["']?[A-Za-z0-9/+=_\-.~!@#$%^&*]{12,}"#,
    ))
});
/// Credentials written as `name = value`: the value is the secret. The
/// names are spelled out in their usual cases (not `(?i)`) so the search
/// can skip ahead on literals.
static ASSIGNED_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"^(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|secret_access_key|client_secret|CLIENT_SECRET"#,
        r#"|api_key|apiKey|API_KEY|api-key|apikey|password|Password|PASSWORD|passwd|token|Token|TOKEN)"#,
        r#"["']?\s*[:=]\s*["']?([A-Za-z0-9/+=_\-.~!@#$%^&*]{12,})"#,
    ))
});

pub(super) fn emails(text: &str, out: &mut Vec<Span>) {
    // Each `@` with the address characters around it: a few bytes to search.
    let bytes = text.as_bytes();
    let mut windows = Ranges::<8>::default();
    for (at, _) in text.match_indices('@') {
        let left = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || "._%+-".contains(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let right = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| c.is_alphanumeric() || ".-".contains(*c))
            .last()
            .map_or(at + 1, |(i, c)| at + 1 + i + c.len_utf8());
        if windows.n > 0 && left < windows.at[windows.n - 1].1 {
            continue;
        }
        windows.push(left, right);
    }
    let whole = [(0, bytes.len())];
    for m in hits(&EMAIL, text, windows.ranges(&whole)) {
        let mut start = m.start();
        while byte_at(text, start).is_some_and(|b| b == b'.' || b == b'-') {
            start += 1;
        }
        if !clean_end(text, m.end(), b"") || byte_at(text, start) == Some(b'@') {
            continue;
        }
        let ctx = context::before(text, start);
        let mut score: f32 = 0.9;
        if ctx.has(context::EMAIL) {
            score += 0.1;
        }
        push(out, EntityType::EmailAddress, start, m.end(), score);
    }
}

// ---- IBAN ------------------------------------------------------------------

pub(super) fn ibans(text: &str, ranges: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in hits(&IBAN, text, ranges) {
        if !clean_start(text, m.start(), b"") {
            continue;
        }
        let s = m.as_str().as_bytes();
        let Some(len) = validators::iban_length(&s[..2]) else {
            continue;
        };
        // Take exactly the country's length of characters, single spaces allowed.
        let mut compact = Vec::with_capacity(len);
        let mut end = 0;
        for (i, b) in s.iter().enumerate() {
            if *b != b' ' {
                compact.push(*b);
                end = i + 1;
                if compact.len() == len {
                    break;
                }
            }
        }
        if compact.len() != len || !validators::iban_checksum(&compact) {
            continue;
        }
        let end = m.start() + end;
        if byte_at(text, end).is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.9;
        if ctx.has(context::IBAN) {
            score += 0.1;
        }
        if ctx.other_number() {
            score -= 0.5;
        }
        push(out, EntityType::IbanCode, m.start(), end, score);
    }
}

// ---- IP addresses ----------------------------------------------------------

pub(super) fn ipv4s(text: &str, spans: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in at(text, spans) {
        if !clean_start(text, m.start(), b".-") || !clean_end(text, m.end(), b".") {
            continue;
        }
        if !validators::ipv4(m.as_str()) {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.8;
        if ctx.has(context::IP) {
            score += 0.15;
        }
        if ctx.version() {
            score -= 0.6;
        }
        push(out, EntityType::IpAddress, m.start(), m.end(), score);
    }
}

pub(super) fn ipv6s(text: &str, ranges: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in hits(&IPV6, text, ranges) {
        let s = m.as_str();
        if s.len() < 3 || !clean_start(text, m.start(), b":.") || !clean_end(text, m.end(), b"") {
            continue;
        }
        if byte_at(text, m.end()) == Some(b':') || !validators::ipv6(s) {
            continue;
        }
        // Times and ratios like 10:20:30 do not parse; `::` alone is not an address.
        if s.bytes().filter(u8::is_ascii_hexdigit).count() < 2 {
            continue;
        }
        let ctx = context::before(text, m.start());
        let mut score: f32 = 0.85;
        if ctx.has(context::IP) {
            score += 0.1;
        }
        push(out, EntityType::IpAddress, m.start(), m.end(), score);
    }
}

// ---- secrets ---------------------------------------------------------------

pub(super) fn secrets(text: &str, ranges: &[(usize, usize)], out: &mut Vec<Span>) {
    for m in hits(&SECRET, text, ranges) {
        if !clean_start(text, m.start(), b"") {
            continue;
        }
        // An assignment: the secret is the value after the name.
        let assigned = ASSIGNED_SECRET
            .captures(m.as_str())
            .and_then(|c| c.get(1))
            .filter(|v| v.end() == m.as_str().len());
        match assigned {
            None => push(out, EntityType::Secret, m.start(), m.end(), 0.95),
            Some(v) => {
                let value = v.as_str();
                // Words and placeholders are not credentials: want letters and digits mixed.
                let digits = value.bytes().any(|b| b.is_ascii_digit());
                let letters = value.bytes().any(|b| b.is_ascii_alphabetic());
                if digits && letters {
                    let start = m.start() + v.start();
                    push(out, EntityType::Secret, start, start + value.len(), 0.7);
                }
            }
        }
    }
}

//! The two client dialects at the HTTP edge: the rate-limit headers each
//! one reads. (The dialect itself, and its error bodies, are domain types.)

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub use crate::domain::completion::Dialect;

/// What admission left for the caller, for the dialect's headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateInfo {
    pub requests_limit: i64,
    pub requests_remaining: i64,
    pub requests_reset_ms: f64,
    pub tokens_limit: i64,
    pub tokens_remaining: i64,
    pub tokens_reset_ms: f64,
}

// Names checked once, at compile time (`from_static` is const), not on
// every response.
const ANTHROPIC_RATE_HEADERS: [HeaderName; 6] = [
    HeaderName::from_static("anthropic-ratelimit-requests-limit"),
    HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
    HeaderName::from_static("anthropic-ratelimit-requests-reset"),
    HeaderName::from_static("anthropic-ratelimit-tokens-limit"),
    HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
    HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
];

const OPENAI_RATE_HEADERS: [HeaderName; 6] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

/// The same six facts under each dialect's names; only the reset format
/// differs (Anthropic: a time, OpenAI: a duration).
pub fn rate_headers(dialect: Dialect, info: &RateInfo, headers: &mut HeaderMap) {
    let (names, reset): ([HeaderName; 6], fn(f64) -> String) = match dialect {
        Dialect::Anthropic => (ANTHROPIC_RATE_HEADERS, |ms| {
            let t = chrono::Utc::now() + chrono::Duration::milliseconds(ms.max(0.0) as i64);
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }),
        Dialect::OpenAi => (OPENAI_RATE_HEADERS, |ms| {
            format!("{:.3}s", ms.max(0.0) / 1000.0)
        }),
    };
    // Both reset spellings are ASCII digits and punctuation: always valid.
    let reset = |ms| HeaderValue::from_str(&reset(ms)).ok();
    let values = [
        Some(HeaderValue::from(info.requests_limit)),
        Some(HeaderValue::from(info.requests_remaining)),
        reset(info.requests_reset_ms),
        Some(HeaderValue::from(info.tokens_limit)),
        Some(HeaderValue::from(info.tokens_remaining)),
        reset(info.tokens_reset_ms),
    ];
    for (name, value) in names.into_iter().zip(values) {
        if let Some(v) = value {
            headers.insert(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_per_dialect() {
        let info = RateInfo {
            requests_limit: 10,
            requests_remaining: 9,
            ..Default::default()
        };
        let mut h = HeaderMap::new();
        rate_headers(Dialect::OpenAi, &info, &mut h);
        assert_eq!(h["x-ratelimit-remaining-requests"], "9");
        let mut h = HeaderMap::new();
        rate_headers(Dialect::Anthropic, &info, &mut h);
        assert_eq!(h["anthropic-ratelimit-requests-limit"], "10");
    }
}

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

fn put(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

const ANTHROPIC_RATE_HEADERS: [&str; 6] = [
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-tokens-reset",
];

const OPENAI_RATE_HEADERS: [&str; 6] = [
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
];

/// The same six facts under each dialect's names; only the reset format
/// differs (Anthropic: a time, OpenAI: a duration).
pub fn rate_headers(dialect: Dialect, info: &RateInfo, headers: &mut HeaderMap) {
    let (names, reset): ([&'static str; 6], fn(f64) -> String) = match dialect {
        Dialect::Anthropic => (ANTHROPIC_RATE_HEADERS, |ms| {
            let t = chrono::Utc::now() + chrono::Duration::milliseconds(ms.max(0.0) as i64);
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }),
        Dialect::OpenAi => (OPENAI_RATE_HEADERS, |ms| {
            format!("{:.3}s", ms.max(0.0) / 1000.0)
        }),
    };
    let values = [
        info.requests_limit.to_string(),
        info.requests_remaining.to_string(),
        reset(info.requests_reset_ms),
        info.tokens_limit.to_string(),
        info.tokens_remaining.to_string(),
        reset(info.tokens_reset_ms),
    ];
    for (name, value) in names.into_iter().zip(values) {
        put(headers, name, value);
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

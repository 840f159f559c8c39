//! The two client dialects: how each names errors and rate-limit headers.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::domain::catalog::ProviderKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Anthropic,
    OpenAi,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Anthropic => "anthropic",
            Dialect::OpenAi => "openai",
        }
    }

    /// Whether a provider speaks this dialect natively (no translation).
    pub fn matches(self, kind: ProviderKind) -> bool {
        matches!(
            (self, kind),
            (Dialect::Anthropic, ProviderKind::Anthropic) | (Dialect::OpenAi, ProviderKind::Openai)
        )
    }

    pub fn of(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Anthropic => Dialect::Anthropic,
            ProviderKind::Openai => Dialect::OpenAi,
        }
    }

    /// The error body in this dialect. `kind` is Anthropic's error type name;
    /// OpenAI's type and code are derived from it.
    pub fn error_body(self, kind: &str, message: &str) -> Value {
        match self {
            Dialect::Anthropic => json!({
                "type": "error",
                "error": { "type": kind, "message": message },
            }),
            Dialect::OpenAi => {
                let (typ, code) = match kind {
                    "authentication_error" => ("invalid_request_error", "invalid_api_key"),
                    "permission_error" => ("invalid_request_error", "permission_denied"),
                    "not_found_error" => ("invalid_request_error", "model_not_found"),
                    "rate_limit_error" => ("requests", "rate_limit_exceeded"),
                    "request_too_large" => ("invalid_request_error", "request_too_large"),
                    "timeout_error" => ("api_error", "timeout"),
                    "overloaded_error" | "api_error" => ("api_error", "upstream_error"),
                    _ => ("invalid_request_error", "invalid_request"),
                };
                json!({ "error": { "message": message, "type": typ, "param": null, "code": code } })
            }
        }
    }
}

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
    fn error_shapes() {
        let a = Dialect::Anthropic.error_body("rate_limit_error", "slow down");
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "rate_limit_error");
        let o = Dialect::OpenAi.error_body("authentication_error", "bad key");
        assert_eq!(o["error"]["code"], "invalid_api_key");
        assert_eq!(o["error"]["message"], "bad key");
    }

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

//! A completion request as the gateway understands it: the client's
//! dialect, the body parsed once and checked, and the token estimate that
//! admission reserves before the provider is called.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::catalog::ProviderKind;

mod fields;
pub use fields::MAX_MODEL_LEN;

/// The two client (and provider) APIs Atrium speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Anthropic,
    #[serde(rename = "openai")]
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
        self == Dialect::of(kind)
    }

    pub fn of(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Anthropic => Dialect::Anthropic,
            ProviderKind::Openai => Dialect::OpenAi,
        }
    }

    /// The error body in this dialect: Anthropic's error type, or OpenAI's
    /// type and code derived from it.
    pub fn error_body(self, kind: ErrorKind, message: &str) -> Value {
        let kind = kind.client_facing();
        match self {
            Dialect::Anthropic => json!({
                "type": "error",
                "error": { "type": kind.as_str(), "message": message },
            }),
            Dialect::OpenAi => {
                let (typ, code) = match kind {
                    ErrorKind::Authentication => ("invalid_request_error", "invalid_api_key"),
                    ErrorKind::Permission => ("invalid_request_error", "permission_denied"),
                    ErrorKind::NotFound => ("invalid_request_error", "model_not_found"),
                    ErrorKind::RateLimit => ("requests", "rate_limit_exceeded"),
                    ErrorKind::RequestTooLarge => ("invalid_request_error", "request_too_large"),
                    ErrorKind::Timeout => ("api_error", "timeout"),
                    ErrorKind::Overloaded
                    | ErrorKind::Api
                    | ErrorKind::Upstream
                    | ErrorKind::ClientClosed => ("api_error", "upstream_error"),
                    ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request"),
                };
                json!({ "error": { "message": message, "type": typ, "param": null, "code": code } })
            }
        }
    }
}

/// How a request failed, in Anthropic's vocabulary (the OpenAI shape is
/// derived from it), plus two outcomes only the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    #[serde(rename = "authentication_error")]
    Authentication,
    #[serde(rename = "invalid_request_error")]
    InvalidRequest,
    #[serde(rename = "request_too_large")]
    RequestTooLarge,
    #[serde(rename = "not_found_error")]
    NotFound,
    #[serde(rename = "permission_error")]
    Permission,
    #[serde(rename = "rate_limit_error")]
    RateLimit,
    #[serde(rename = "api_error")]
    Api,
    #[serde(rename = "overloaded_error")]
    Overloaded,
    #[serde(rename = "timeout_error")]
    Timeout,
    /// The provider's stream broke off or never finished (ledger only).
    #[serde(rename = "upstream_error")]
    Upstream,
    /// The client hung up before the answer was complete (ledger only).
    #[serde(rename = "client_closed")]
    ClientClosed,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Authentication,
        ErrorKind::InvalidRequest,
        ErrorKind::RequestTooLarge,
        ErrorKind::NotFound,
        ErrorKind::Permission,
        ErrorKind::RateLimit,
        ErrorKind::Api,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::Upstream,
        ErrorKind::ClientClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::Api => "api_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Upstream => "upstream_error",
            ErrorKind::ClientClosed => "client_closed",
        }
    }

    /// The type a client is shown: the ledger-only kinds are API errors.
    pub fn client_facing(self) -> ErrorKind {
        match self {
            ErrorKind::Upstream | ErrorKind::ClientClosed => ErrorKind::Api,
            other => other,
        }
    }
}

impl FromStr for ErrorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown error kind {s}"))
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "anthropic" => Ok(Dialect::Anthropic),
            "openai" => Ok(Dialect::OpenAi),
            other => Err(format!("unknown dialect {other}")),
        }
    }
}

/// Why a body cannot be forwarded: not JSON at all (422), or JSON that
/// breaks the dialect's rules (400). The message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    NotJson(String),
    Invalid(String),
}

/// Output tokens assumed when the client sets no limit.
const DEFAULT_OUTPUT_TOKENS: i64 = 256;
/// The most output one request may reserve, whatever it asks for.
const MAX_OUTPUT_TOKENS: i64 = 32_768;

/// A parsed, checked completion request. The body stays a JSON value:
/// governance rewrites it, and unknown fields pass through to the provider.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    pub dialect: Dialect,
    pub model: String,
    pub stream: bool,
    /// OpenAI's `stream_options.include_usage`: the client wants the final usage chunk.
    pub include_usage: bool,
    pub body: Value,
    /// Size of the body as received, for the token estimate.
    pub body_bytes: usize,
}

impl CompletionRequest {
    pub fn parse(dialect: Dialect, bytes: &[u8]) -> Result<Self, RequestError> {
        let body: Value = serde_json::from_slice(bytes)
            .map_err(|e| RequestError::NotJson(format!("request body is not valid JSON: {e}")))?;
        let model = validate(dialect, &body)?;
        let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Self {
            dialect,
            model,
            stream,
            include_usage,
            body,
            body_bytes: bytes.len(),
        })
    }

    /// A cheap upper-bound guess: about four bytes a token, plus the most
    /// the model may write. Settled against real usage afterwards.
    pub fn estimate_tokens(&self) -> i64 {
        let output = self
            .body
            .get("max_tokens")
            .or_else(|| self.body.get("max_completion_tokens"))
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_OUTPUT_TOKENS)
            .clamp(1, MAX_OUTPUT_TOKENS);
        (self.body_bytes as i64 / 4).max(1) + output
    }
}

/// The fields each dialect requires, with messages that say what is wrong.
fn validate(dialect: Dialect, body: &Value) -> Result<String, RequestError> {
    let Some(obj) = body.as_object() else {
        return Err(RequestError::NotJson(
            "request body must be a JSON object".into(),
        ));
    };
    let model = fields::model(body)?;
    fields::check(dialect, obj)?;
    if dialect == Dialect::Anthropic && !obj.contains_key("max_tokens") {
        return Err(RequestError::Invalid(
            "max_tokens: field required (a positive integer)".into(),
        ));
    }
    if body.get("stream").is_some_and(|s| !s.is_boolean()) {
        return Err(RequestError::Invalid(
            "stream: must be true or false".into(),
        ));
    }
    Ok(model.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(dialect: Dialect, body: &str) -> Result<CompletionRequest, RequestError> {
        CompletionRequest::parse(dialect, body.as_bytes())
    }

    #[test]
    fn a_valid_request_parses_once() {
        let r = parse(
            Dialect::OpenAi,
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},
                "messages":[{"role":"user","content":"hi"}],"extra":1}"#,
        )
        .expect("valid");
        assert_eq!(r.model, "m");
        assert!(r.stream && r.include_usage);
        assert_eq!(r.body["extra"], 1, "unknown fields pass through");
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[1]", "JSON object"),
            (r#"{"messages":[{"role":"user"}]}"#, "model"),
            (r#"{"model":" ","messages":[{"role":"user"}]}"#, "model"),
            (r#"{"model":"m"}"#, "messages"),
            (r#"{"model":"m","messages":[]}"#, "at least one"),
            (r#"{"model":"m","messages":[{"content":"x"}]}"#, "role"),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#,
                "stream",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
                "messages[0].content",
            ),
            (
                r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"model":"m","max_tokens":-1,"messages":[{"role":"user"}]}"#,
                "max_tokens",
            ),
            (
                r#"{"model":"m","max_tokens":"ten","messages":[{"role":"user"}]}"#,
                "max_tokens",
            ),
            (
                r#"{"model":"m","temperature":"hot","messages":[{"role":"user"}]}"#,
                "temperature",
            ),
            (
                r#"{"model":"m","temperature":2.5,"messages":[{"role":"user"}]}"#,
                "temperature",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"a\u0000b"}]}"#,
                "NUL",
            ),
            (
                r#"{"model":"m\u0000","messages":[{"role":"user"}]}"#,
                "model",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
                "content[0].type",
            ),
        ];
        let long = format!(
            r#"{{"model":"{}","messages":[{{"role":"user"}}]}}"#,
            "m".repeat(257)
        );
        assert!(
            parse(Dialect::OpenAi, &long).is_err(),
            "a 257-byte model name"
        );
        let unknown =
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"seed":7,"x_custom":{}}"#;
        assert!(
            parse(Dialect::OpenAi, unknown).is_ok(),
            "unknown fields pass through"
        );
        for (body, needle) in cases {
            let err = parse(Dialect::OpenAi, body).expect_err(body);
            let (RequestError::NotJson(m) | RequestError::Invalid(m)) = err;
            assert!(m.contains(needle), "{body}: {m}");
        }
    }

    #[test]
    fn json_errors_and_rule_errors_differ() {
        assert!(matches!(
            parse(Dialect::OpenAi, "{"),
            Err(RequestError::NotJson(_))
        ));
        assert!(matches!(
            parse(Dialect::OpenAi, r#"{"model":"m"}"#),
            Err(RequestError::Invalid(_))
        ));
    }

    #[test]
    fn anthropic_requires_max_tokens() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#;
        assert!(parse(Dialect::OpenAi, body).is_ok());
        let err = parse(Dialect::Anthropic, body).expect_err("no max_tokens");
        assert!(matches!(err, RequestError::Invalid(m) if m.starts_with("max_tokens")));
        let zero = r#"{"model":"m","max_tokens":0,"messages":[{"role":"user"}]}"#;
        assert!(parse(Dialect::Anthropic, zero).is_err());
    }

    #[test]
    fn estimate_counts_the_body_and_the_output_limit() {
        let body = r#"{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"}]}"#;
        let r = parse(Dialect::Anthropic, body).expect("valid");
        assert_eq!(r.estimate_tokens(), body.len() as i64 / 4 + 100);
        let huge = r#"{"model":"m","max_tokens":99999999,"messages":[{"role":"user"}]}"#;
        let r = parse(Dialect::Anthropic, huge).expect("valid");
        assert_eq!(
            r.estimate_tokens(),
            huge.len() as i64 / 4 + MAX_OUTPUT_TOKENS
        );
        let none = r#"{"model":"m","messages":[{"role":"user"}]}"#;
        let r = parse(Dialect::OpenAi, none).expect("valid");
        assert_eq!(
            r.estimate_tokens(),
            none.len() as i64 / 4 + DEFAULT_OUTPUT_TOKENS
        );
    }

    #[test]
    fn dialects_round_trip_and_shape_errors() {
        for d in [Dialect::Anthropic, Dialect::OpenAi] {
            assert_eq!(d.as_str().parse::<Dialect>(), Ok(d));
        }
        let a = Dialect::Anthropic.error_body(ErrorKind::RateLimit, "slow down");
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "rate_limit_error");
        let o = Dialect::OpenAi.error_body(ErrorKind::Authentication, "bad key");
        assert_eq!(o["error"]["code"], "invalid_api_key");
        assert_eq!(o["error"]["message"], "bad key");
        let broke = Dialect::Anthropic.error_body(ErrorKind::Upstream, "ended early");
        assert_eq!(
            broke["error"]["type"], "api_error",
            "ledger-only kinds are API errors"
        );
        for k in ErrorKind::ALL {
            assert_eq!(k.as_str().parse::<ErrorKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).expect("json"), k.as_str());
        }
    }
}

//! A completion request as the gateway understands it: the client's
//! dialect, the body parsed once and checked, and the token estimate that
//! admission reserves before the provider is called.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::catalog::kind::ProviderKind;

mod bound;
mod fields;
pub mod media;
mod server_tools;
pub use bound::Exposure;
pub use fields::MAX_MODEL_LEN;
pub use server_tools::{ServerTools, ToolUses};

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
                    ErrorKind::BudgetExceeded => ("budget_exceeded", "budget_exceeded"),
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
    /// A hard budget would be crossed (a 429 in both dialects).
    #[serde(rename = "budget_exceeded")]
    BudgetExceeded,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 12] = [
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
        ErrorKind::BudgetExceeded,
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
            ErrorKind::BudgetExceeded => "budget_exceeded",
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
    /// Its server-side tools as bounded by `bound_server_tools`.
    pub server_tools: ToolUses,
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
            server_tools: ToolUses::default(),
        })
    }

    /// A cheap upper-bound guess: about four bytes a token, plus the most
    /// the model may write for every choice. Settled against real usage
    /// afterwards.
    pub fn estimate_tokens(&self) -> i64 {
        let output = self
            .max_output_tokens()
            .unwrap_or(DEFAULT_OUTPUT_TOKENS)
            .clamp(1, MAX_OUTPUT_TOKENS);
        self.input_estimate()
            .saturating_add(output.saturating_mul(self.choices()))
    }

    /// After a rewrite added up to `bytes` to the body (redaction puts
    /// `[REDACTED:IP_ADDRESS]` where `1.2.3.4` was), so the worst case
    /// still bounds what is forwarded.
    pub fn grew(&mut self, bytes: usize) {
        self.body_bytes = self.body_bytes.saturating_add(bytes);
    }

    /// The end user the client named (OpenAI `user`, Anthropic
    /// `metadata.user_id`), checked at parse.
    pub fn end_user(&self) -> Option<&str> {
        fields::end_user_of(self.dialect, &self.body)
    }

    /// The input's tokens, guessed at about four bytes a token.
    pub fn input_estimate(&self) -> i64 {
        (i64::try_from(self.body_bytes).unwrap_or(i64::MAX) / 4).max(1)
    }

    /// The most the provider can bill for this request in tokens, with
    /// `max_output` tokens per choice (see `bound`).
    pub fn exposure(&self, max_output: i64) -> Exposure {
        Exposure::of(&self.body, self.body_bytes, max_output, self.choices())
            .with_server_tools(self.server_tools)
    }

    /// The client's own limit on output tokens per choice: the larger of
    /// the two names, since providers (and the translation to OpenAI,
    /// and vLLM) honour `max_completion_tokens` over `max_tokens`, and a
    /// bound must hold whichever one is read. Values beyond i64 saturate.
    pub fn max_output_tokens(&self) -> Option<i64> {
        let read = |key: &str| {
            self.body
                .get(key)
                .and_then(Value::as_u64)
                .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
        };
        match (read("max_tokens"), read("max_completion_tokens")) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many answers the provider writes and bills: OpenAI's `n`
    /// (checked to be 1 to 128 when parsed); one otherwise.
    pub fn choices(&self) -> i64 {
        match self.dialect {
            Dialect::OpenAi => self
                .body
                .get("n")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .max(1),
            Dialect::Anthropic => 1,
        }
    }

    /// The output limit the provider is held to: the client's, or `cap`
    /// written into the body when the client set none (OpenAI allows
    /// that), so the most a request can cost is known before it is sent.
    pub fn bound_output(&mut self, cap: i64) -> i64 {
        if let Some(max) = self.max_output_tokens() {
            return max;
        }
        if let Some(obj) = self.body.as_object_mut() {
            obj.insert("max_tokens".into(), Value::from(cap));
        }
        cap
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
mod tests;

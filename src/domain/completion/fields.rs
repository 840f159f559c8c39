//! The types and ranges of the fields each dialect defines. A body that
//! breaks them is answered 400 naming the field, never forwarded for the
//! provider to guess at; fields a dialect does not define pass through.

use serde_json::{Map, Value};

use super::{Dialect, RequestError};

/// Longest model name accepted: it reaches logs, the ledger and the audit trail.
pub const MAX_MODEL_LEN: usize = 256;
/// Longest end-user id accepted (Anthropic's `metadata.user_id` limit):
/// it is stored on the ledger row.
pub const MAX_END_USER_LEN: usize = 256;

const ANTHROPIC_ROLES: &[&str] = &["user", "assistant"];
const OPENAI_ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];
const ANTHROPIC_BLOCKS: &[&str] = &[
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "thinking",
    "redacted_thinking",
    "container_upload",
];
const OPENAI_PARTS: &[&str] = &["text", "image_url", "input_audio", "file", "refusal"];

/// Tool types a provider runs itself, each use adding tokens and fees the
/// request's bytes do not bound: Anthropic's web search and fetch, code
/// execution and tool search (versioned names such as `web_search_20250305`).
const SERVER_TOOL_PREFIXES: &[&str] = &[
    "web_search",
    "web_fetch",
    "code_execution",
    "tool_search_tool",
];

pub(super) fn is_server_tool(ty: &str) -> bool {
    SERVER_TOOL_PREFIXES.iter().any(|p| ty.starts_with(p))
}

fn invalid(field: &str, rule: &str) -> RequestError {
    RequestError::Invalid(format!("{field}: {rule}"))
}

/// The model named by the request: present, short, printable.
pub(super) fn model(body: &Value) -> Result<&str, RequestError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| invalid("model", "field required"))?;
    if model.len() > MAX_MODEL_LEN {
        return Err(invalid("model", "must be at most 256 bytes"));
    }
    if model.chars().any(char::is_control) {
        return Err(invalid("model", "must not contain control characters"));
    }
    Ok(model)
}

/// Every defined field's type and range, then no NUL in any string.
pub(super) fn check(dialect: Dialect, body: &Map<String, Value>) -> Result<(), RequestError> {
    let (temperature_max, tokens) = match dialect {
        Dialect::Anthropic => (1.0, &["max_tokens"][..]),
        Dialect::OpenAi => (2.0, &["max_tokens", "max_completion_tokens"][..]),
    };
    for key in tokens {
        positive_integer(body, key)?;
    }
    number_in(body, "temperature", 0.0, temperature_max)?;
    number_in(body, "top_p", 0.0, 1.0)?;
    match dialect {
        Dialect::Anthropic => {
            number_in(body, "top_k", 0.0, f64::MAX)?;
            strings(body, "stop_sequences")?;
            if let Some(system) = body.get("system") {
                content(Dialect::Anthropic, "system", system)?;
            }
        }
        Dialect::OpenAi => {
            number_in(body, "presence_penalty", -2.0, 2.0)?;
            number_in(body, "frequency_penalty", -2.0, 2.0)?;
            integer_in(body, "n", 1, 128)?;
            strings(body, "stop")?;
        }
    }
    messages(dialect, body)?;
    end_user(dialect, body)?;
    for (key, v) in body {
        if has_nul(v) {
            return Err(invalid(key, "must not contain NUL characters"));
        }
    }
    Ok(())
}

/// The end user the client names, where its dialect puts it: OpenAI's
/// `user`, Anthropic's `metadata.user_id`. A string of at most 256 bytes
/// without control characters, or absent.
pub(super) fn end_user_of(dialect: Dialect, body: &Value) -> Option<&str> {
    match dialect {
        Dialect::OpenAi => body.get("user"),
        Dialect::Anthropic => body.pointer("/metadata/user_id"),
    }
    .and_then(Value::as_str)
    .filter(|u| !u.is_empty())
}

fn end_user(dialect: Dialect, body: &Map<String, Value>) -> Result<(), RequestError> {
    let (field, v) = match dialect {
        Dialect::OpenAi => ("user", body.get("user")),
        Dialect::Anthropic => (
            "metadata.user_id",
            body.get("metadata").and_then(|m| m.get("user_id")),
        ),
    };
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(u)) if u.len() > MAX_END_USER_LEN => {
            Err(invalid(field, "must be at most 256 bytes"))
        }
        Some(Value::String(u)) if u.chars().any(char::is_control) => {
            Err(invalid(field, "must not contain control characters"))
        }
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn positive_integer(body: &Map<String, Value>, key: &str) -> Result<(), RequestError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => Ok(()),
        Some(_) => Err(invalid(key, "must be a positive integer")),
    }
}

/// A whole number in `min..=max` (OpenAI's `n`: it multiplies the bill).
fn integer_in(
    body: &Map<String, Value>,
    key: &str,
    min: u64,
    max: u64,
) -> Result<(), RequestError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| (min..=max).contains(&n)) => Ok(()),
        Some(_) => Err(invalid(
            key,
            &format!("must be a whole number from {min} to {max}"),
        )),
    }
}

fn number_in(body: &Map<String, Value>, key: &str, min: f64, max: f64) -> Result<(), RequestError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_f64().is_some_and(|n| (min..=max).contains(&n)) => Ok(()),
        Some(_) if max == f64::MAX => {
            Err(invalid(key, &format!("must be a number of at least {min}")))
        }
        Some(_) => Err(invalid(
            key,
            &format!("must be a number from {min} to {max}"),
        )),
    }
}

/// A string, or an array of strings (stop sequences).
fn strings(body: &Map<String, Value>, key: &str) -> Result<(), RequestError> {
    match body.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(_) => Err(invalid(key, "must be a string or an array of strings")),
    }
}

fn messages(dialect: Dialect, body: &Map<String, Value>) -> Result<(), RequestError> {
    let roles = match dialect {
        Dialect::Anthropic => ANTHROPIC_ROLES,
        Dialect::OpenAi => OPENAI_ROLES,
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages", "field required (an array)"))?;
    if messages.is_empty() {
        return Err(invalid("messages", "at least one message is required"));
    }
    for (i, m) in messages.iter().enumerate() {
        let field = format!("messages[{i}]");
        let m = m
            .as_object()
            .ok_or_else(|| invalid(&field, "must be an object"))?;
        match m.get("role").and_then(Value::as_str) {
            Some(r) if roles.contains(&r) => {}
            Some(_) => return Err(invalid(&format!("{field}.role"), &one_of(roles))),
            None => {
                return Err(invalid(
                    &format!("{field}.role"),
                    "every message needs a role",
                ))
            }
        }
        if let Some(c) = m.get("content") {
            content(dialect, &format!("{field}.content"), c)?;
        }
    }
    Ok(())
}

/// Text, or an array of blocks (parts) of the dialect's types.
fn content(dialect: Dialect, field: &str, c: &Value) -> Result<(), RequestError> {
    let kinds = match dialect {
        Dialect::Anthropic => ANTHROPIC_BLOCKS,
        Dialect::OpenAi => OPENAI_PARTS,
    };
    match c {
        Value::String(_) => Ok(()),
        Value::Null if dialect == Dialect::OpenAi => Ok(()),
        Value::Array(blocks) => blocks.iter().enumerate().try_for_each(|(i, b)| {
            let ty = b.get("type").and_then(Value::as_str);
            if ty.is_some_and(|t| kinds.contains(&t)) {
                Ok(())
            } else {
                Err(invalid(&format!("{field}[{i}].type"), &one_of(kinds)))
            }
        }),
        _ => Err(invalid(
            field,
            "must be a string or an array of content blocks",
        )),
    }
}

fn one_of(allowed: &[&str]) -> String {
    format!("must be one of {}", allowed.join(", "))
}

/// Iterative, so a deeply nested body cannot overflow the stack.
fn has_nul(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

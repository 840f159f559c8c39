//! Dialect translation, both ways: requests, responses and the streaming
//! event sequences. Pure functions over JSON, so unknown fields survive
//! where the dialects agree and the rules are testable without a network.

pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

use serde_json::{json, Value};

/// Text of an Anthropic `content` (string or blocks) or an OpenAI `content`
/// (string or parts).
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b.get("text").and_then(Value::as_str).map(str::to_string),
                _ => b.as_str().map(str::to_string),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// An OpenAI assistant message (`content`, `tool_calls`) as Anthropic blocks.
pub fn openai_message_to_blocks(message: &Value) -> Vec<Value> {
    let mut blocks = Vec::new();
    let text = text_of(message.get("content").unwrap_or(&Value::Null));
    if !text.is_empty() {
        blocks.push(json!({ "type": "text", "text": text }));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for call in calls.into_iter().flatten() {
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        blocks.push(json!({
            "type": "tool_use",
            "id": call.get("id"),
            "name": call.pointer("/function/name"),
            "input": serde_json::from_str::<Value>(args).unwrap_or_else(|_| json!({})),
        }));
    }
    blocks
}

/// Anthropic assistant blocks as OpenAI's joined text and `tool_calls`.
pub fn blocks_to_openai_message(blocks: &[Value]) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": b.get("id"),
                "type": "function",
                "function": {
                    "name": b.get("name"),
                    "arguments": b.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                },
            })),
            _ => {}
        }
    }
    (text, calls)
}

/// Anthropic's stop reasons in OpenAI's words.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// OpenAI's finish reasons in Anthropic's words.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

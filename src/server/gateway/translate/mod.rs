//! Dialect translation, both ways: requests, responses and the streaming
//! event sequences. Pure functions over JSON, so unknown fields survive
//! where the dialects agree and the rules are testable without a network.

pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

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

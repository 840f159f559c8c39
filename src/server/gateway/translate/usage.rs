//! Token counts, read from either dialect's `usage` object.

use serde_json::Value;

use crate::domain::pricing::TokenCounts;

/// A count, never below zero: a negative one from a provider would lower
/// the bill (or, as a cached count, raise the input's).
fn n(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0).max(0)
}

/// Anthropic counts cached prompt tokens apart from `input_tokens`, and
/// the uses of its server-side tools apart from tokens.
pub fn from_anthropic(usage: &Value) -> TokenCounts {
    TokenCounts {
        input: n(usage, "/input_tokens"),
        output: n(usage, "/output_tokens"),
        cache_read: n(usage, "/cache_read_input_tokens"),
        cache_write: n(usage, "/cache_creation_input_tokens"),
        server_tool_uses: server_tool_uses(usage).unwrap_or(0),
    }
}

/// Anthropic's `server_tool_use` counts (web searches and fetches run by
/// the provider), summed; `None` when the usage object carries none.
pub fn server_tool_uses(usage: &Value) -> Option<i64> {
    let uses = usage.get("server_tool_use")?.as_object()?;
    Some(
        uses.values()
            .filter_map(Value::as_i64)
            .fold(0i64, |sum, n| sum.saturating_add(n.max(0))),
    )
}

/// OpenAI's `prompt_tokens` includes the cached ones; split them out.
pub fn from_openai(usage: &Value) -> TokenCounts {
    let cached = n(usage, "/prompt_tokens_details/cached_tokens");
    TokenCounts {
        // Checked: the counts are the provider's, and may be anything.
        input: n(usage, "/prompt_tokens").saturating_sub(cached).max(0),
        output: n(usage, "/completion_tokens"),
        cache_read: cached,
        cache_write: 0,
        server_tool_uses: 0,
    }
}

pub fn to_openai(t: &TokenCounts) -> Value {
    let prompt = t
        .input
        .saturating_add(t.cache_read)
        .saturating_add(t.cache_write);
    serde_json::json!({
        "prompt_tokens": prompt,
        "completion_tokens": t.output,
        "total_tokens": prompt.saturating_add(t.output),
        "prompt_tokens_details": { "cached_tokens": t.cache_read },
    })
}

pub fn to_anthropic(t: &TokenCounts) -> Value {
    serde_json::json!({
        "input_tokens": t.input,
        "output_tokens": t.output,
        "cache_read_input_tokens": t.cache_read,
        "cache_creation_input_tokens": t.cache_write,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_between_dialects() {
        let t = from_openai(&json!({"prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 40}}));
        assert_eq!((t.input, t.output, t.cache_read), (60, 7, 40));
        assert_eq!(to_openai(&t)["prompt_tokens"], 100);
        let a = from_anthropic(&to_anthropic(&t));
        assert_eq!(a, t);
    }
}

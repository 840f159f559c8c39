//! The most a provider can bill for one request, in tokens, read from the
//! request alone: the hard-budget worst case prices this (README, "Hard
//! budgets: the worst case"). Every part is a true upper bound:
//!
//! - input: every byte of the body as a token (a token is at least one
//!   byte), plus an allowance per medium named by reference (`media`),
//!   plus the prompts providers add for tools, which the body does not carry;
//! - output: the output limit (the larger of both field names) times the
//!   number of choices (OpenAI's `n`);
//! - server-side tools, where a model allows them: their uses at most,
//!   each adding its allowance of input tokens (`server_tools`).
//!
//! All sums saturate: a request whose bound does not fit is refused by any
//! hard budget, never wrapped into a small one.

use serde_json::Value;

use super::media;
use super::server_tools::ToolUses;

/// Tokens a provider adds once when a request defines tools: its tool-use
/// system prompt (Anthropic documents up to 346) with room to spare.
pub const TOOL_PROMPT_TOKENS: i64 = 1_000;
/// Tokens a provider-defined tool type adds (computer use documents about
/// 1,200: its definition and its system prompt), with room to spare.
pub const TYPED_TOOL_TOKENS: i64 = 2_000;

/// A request's billable bound in tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Input-side tokens at most (priced at the dearest input-side price).
    pub input: i64,
    /// Output tokens at most, all choices together.
    pub output: i64,
    /// Server-side tool uses at most (priced per use).
    pub server_tool_uses: i64,
}

impl Exposure {
    pub fn of(body: &Value, body_bytes: usize, max_output: i64, choices: i64) -> Self {
        let bytes = i64::try_from(body_bytes).unwrap_or(i64::MAX).max(1);
        Self {
            input: bytes
                .saturating_add(media::referenced_tokens(body))
                .saturating_add(tool_tokens(body)),
            output: max_output.max(0).saturating_mul(choices.max(1)),
            server_tool_uses: 0,
        }
    }

    /// Adds what the request's server-side tools can bill: their uses,
    /// and each use's result tokens as input.
    pub fn with_server_tools(self, tools: ToolUses) -> Self {
        let uses = tools.uses.max(0);
        Self {
            input: self
                .input
                .saturating_add(uses.saturating_mul(tools.tokens_per_use.max(0))),
            server_tool_uses: uses,
            ..self
        }
    }
}

/// The tokens providers add for the tools a request defines: a tool-use
/// prompt once, and a definition per provider-defined tool (one with a
/// `type` other than a plain function or custom tool).
pub fn tool_tokens(body: &Value) -> i64 {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else {
        return 0;
    };
    if tools.is_empty() {
        return 0;
    }
    let typed = tools
        .iter()
        .filter_map(|t| t.get("type").and_then(Value::as_str))
        .filter(|ty| !matches!(*ty, "function" | "custom"))
        .count();
    TOOL_PROMPT_TOKENS.saturating_add((typed as i64).saturating_mul(TYPED_TOOL_TOKENS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_is_the_limit_times_the_choices_and_saturates() {
        let body = json!({});
        assert_eq!(Exposure::of(&body, 100, 4096, 128).output, 4096 * 128);
        assert_eq!(Exposure::of(&body, 100, i64::MAX, 2).output, i64::MAX);
        assert_eq!(Exposure::of(&body, 0, 0, 0).input, 1);
    }

    #[test]
    fn tools_add_the_prompts_providers_add() {
        let plain = json!({ "tools": [{ "name": "f", "input_schema": {} }] });
        assert_eq!(tool_tokens(&plain), TOOL_PROMPT_TOKENS);
        let typed = json!({ "tools": [
            { "type": "computer_20250124", "name": "computer" },
            { "type": "function", "function": { "name": "f" } },
            { "type": "text_editor_20250124", "name": "e" },
        ]});
        assert_eq!(
            tool_tokens(&typed),
            TOOL_PROMPT_TOKENS + 2 * TYPED_TOOL_TOKENS
        );
        assert_eq!(tool_tokens(&json!({ "tools": [] })), 0);
    }
}

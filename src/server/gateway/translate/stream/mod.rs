//! Streaming: each upstream SSE event in, the client's SSE frames out, with
//! token usage observed on the way. One translator per response.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::usage;
use crate::domain::pricing::TokenCounts;
use crate::server::gateway::sse::{encode, SseEvent};

/// What every translator learns from the upstream stream on the way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed {
    pub usage: TokenCounts,
    /// Whether upstream said it was done (so an early end is an error).
    pub completed: bool,
}

pub trait StreamTranslator: Send {
    /// Frames to send the client for one upstream event.
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String>;
    /// Frames that close the client's stream once upstream has ended.
    fn finish(&mut self) -> Vec<String> {
        Vec::new()
    }
    fn observed(&self) -> Observed;

    fn usage(&self) -> TokenCounts {
        self.observed().usage
    }
    fn completed(&self) -> bool {
        self.observed().completed
    }
}

/// `v[outer][inner]`. `Value::pointer` unescapes each segment into a new
/// string first: an allocation per look-up, per event.
pub(crate) fn field<'v>(v: &'v Value, outer: &str, inner: &str) -> Option<&'v Value> {
    v.get(outer)?.get(inner)
}

fn parse(ev: &SseEvent) -> Option<Value> {
    serde_json::from_str(&ev.data).ok()
}

/// The one field a passed-through OpenAI chunk is read for. Almost every
/// chunk carries a token and no usage: reading it through this view skips
/// the rest without building it, where a `Value` allocated a map per
/// chunk (9% of the gateway's CPU when streaming).
#[derive(Deserialize)]
struct UsageView<'a> {
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
}

/// The field a passed-through Anthropic event is read for: its type. A
/// bare `Cow` borrows (an `Option` of one would copy every time); a type
/// that is `null` or not a string is refused, so read in full.
#[derive(Deserialize)]
struct TypeView<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
}

/// Whether the chunk may carry usage, so must be read in full. Whatever
/// the view refuses (a duplicate key, a non-string, not JSON) is read in
/// full too, so the answer never differs from reading every chunk in full.
///
/// A key `usage` is spelled out or escaped (`\u0075sage`), so a chunk with
/// neither the word nor a backslash has none: most chunks are passed on
/// that scan, without a parse.
fn may_carry_usage(data: &str) -> bool {
    if !data.contains("usage") && !data.contains('\\') {
        return false;
    }
    serde_json::from_str::<UsageView>(data).map_or(true, |v| v.usage.is_some())
}

/// Whether an Anthropic event is one of the three the stream's accounting
/// reads (its start, its usage, its end), under the same rule.
fn anthropic_accounted(data: &str) -> bool {
    serde_json::from_str::<TypeView>(data).map_or(true, |v| {
        matches!(
            v.kind.as_ref(),
            "message_start" | "message_delta" | "message_stop"
        )
    })
}

/// Anthropic to an Anthropic client: events pass as they are.
#[derive(Default)]
pub struct AnthropicPassthrough {
    seen: Observed,
}

impl StreamTranslator for AnthropicPassthrough {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String> {
        if let Some(v) = anthropic_accounted(&ev.data).then(|| parse(ev)).flatten() {
            observe_anthropic(&v, &mut self.seen);
        }
        vec![encode(ev.event.as_deref(), &ev.data)]
    }
    fn observed(&self) -> Observed {
        self.seen
    }
}

fn observe_anthropic(v: &Value, seen: &mut Observed) {
    let usage = &mut seen.usage;
    match v.get("type").and_then(Value::as_str) {
        Some("message_start") => {
            *usage = usage::from_anthropic(field(v, "message", "usage").unwrap_or(&Value::Null));
        }
        Some("message_delta") => {
            if let Some(u) = v.get("usage") {
                if let Some(out) = u.get("output_tokens").and_then(Value::as_i64) {
                    usage.output = out;
                }
                if let Some(inp) = u.get("input_tokens").and_then(Value::as_i64) {
                    usage.input = inp;
                }
                if let Some(uses) = usage::server_tool_uses(u) {
                    usage.server_tool_uses = uses;
                }
            }
        }
        Some("message_stop") => seen.completed = true,
        _ => {}
    }
}

/// OpenAI to an OpenAI client. Atrium always asks upstream for usage; the
/// usage-only chunk is dropped when the client did not ask for it.
pub struct OpenAiPassthrough {
    pub include_usage: bool,
    seen: Observed,
}

impl OpenAiPassthrough {
    pub fn new(include_usage: bool) -> Self {
        Self {
            include_usage,
            seen: Observed::default(),
        }
    }
}

impl StreamTranslator for OpenAiPassthrough {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String> {
        if ev.data.trim() == "[DONE]" {
            self.seen.completed = true;
            return vec![encode(None, "[DONE]")];
        }
        if !may_carry_usage(&ev.data) {
            return vec![encode(None, &ev.data)];
        }
        let Some(v) = parse(ev) else {
            return vec![encode(None, &ev.data)];
        };
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.seen.usage = usage::from_openai(u);
            let empty = v
                .get("choices")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if empty && !self.include_usage {
                return Vec::new();
            }
        }
        vec![encode(None, &ev.data)]
    }
    fn observed(&self) -> Observed {
        self.seen
    }
}

/// OpenAI chunks to Anthropic's event sequence.
mod anthropic_to_openai;
mod openai_to_anthropic;
pub(crate) mod view;

pub use anthropic_to_openai::AnthropicToOpenAi;
pub use openai_to_anthropic::OpenAiToAnthropic;

#[cfg(test)]
mod tests;

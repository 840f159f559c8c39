//! Anthropic's Messages events as an OpenAI chunk stream.

use serde_json::{json, Value};

use super::super::{finish_reason, usage};
use super::{field, observe_anthropic, parse, Observed, StreamTranslator};
use crate::domain::time::now_millis;
use crate::server::gateway::sse::{encode, SseEvent};

/// Anthropic events to OpenAI chunks, ending with `[DONE]`.
pub struct AnthropicToOpenAi {
    model: String,
    include_usage: bool,
    id: String,
    created: i64,
    /// Anthropic block index → OpenAI tool-call index.
    tool_calls: Vec<(i64, usize)>,
    seen: Observed,
}

impl AnthropicToOpenAi {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            model: model.to_string(),
            include_usage,
            id: "chatcmpl-atrium".into(),
            created: now_millis() / 1000,
            tool_calls: Vec::new(),
            seen: Observed::default(),
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> String {
        encode(None, &json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
        }).to_string())
    }
}

impl StreamTranslator for AnthropicToOpenAi {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String> {
        let Some(v) = parse(ev) else {
            return Vec::new();
        };
        observe_anthropic(&v, &mut self.seen);
        match v.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(id) = field(&v, "message", "id").and_then(Value::as_str) {
                    self.id = format!("chatcmpl-{id}");
                }
                vec![self.chunk(json!({ "role": "assistant", "content": "" }), None)]
            }
            Some("content_block_start")
                if field(&v, "content_block", "type") == Some(&json!("tool_use")) =>
            {
                let block = v.get("index").and_then(Value::as_i64).unwrap_or(0);
                let idx = self.tool_calls.len();
                self.tool_calls.push((block, idx));
                vec![self.chunk(
                    json!({ "tool_calls": [{ "index": idx,
                    "id": field(&v, "content_block", "id"), "type": "function",
                    "function": { "name": field(&v, "content_block", "name"), "arguments": "" } }] }),
                    None,
                )]
            }
            Some("content_block_delta") => match field(&v, "delta", "type").and_then(Value::as_str)
            {
                Some("text_delta") => {
                    vec![self.chunk(json!({ "content": field(&v, "delta", "text") }), None)]
                }
                Some("input_json_delta") => {
                    let block = v.get("index").and_then(Value::as_i64).unwrap_or(0);
                    let idx = self
                        .tool_calls
                        .iter()
                        .find(|(b, _)| *b == block)
                        .map_or(0, |(_, i)| *i);
                    vec![self.chunk(
                        json!({ "tool_calls": [{ "index": idx,
                        "function": { "arguments": field(&v, "delta", "partial_json") } }] }),
                        None,
                    )]
                }
                _ => Vec::new(),
            },
            Some("message_delta") => {
                let stop = v
                    .pointer("/delta/stop_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                vec![self.chunk(json!({}), Some(finish_reason(stop)))]
            }
            _ => Vec::new(),
        }
    }

    fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if self.include_usage {
            out.push(encode(
                None,
                &json!({
                    "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                    "model": self.model, "choices": [], "usage": usage::to_openai(&self.seen.usage),
                })
                .to_string(),
            ));
        }
        out.push(encode(None, "[DONE]"));
        out
    }

    fn observed(&self) -> Observed {
        self.seen
    }
}

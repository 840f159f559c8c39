//! Streaming: each upstream SSE event in, the client's SSE frames out, with
//! token usage observed on the way. One translator per response.

use serde_json::{json, Value};

use super::{finish_reason, stop_reason, usage};
use crate::domain::pricing::TokenCounts;
use crate::domain::time::now_millis;
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

fn parse(ev: &SseEvent) -> Option<Value> {
    serde_json::from_str(&ev.data).ok()
}

/// Anthropic to an Anthropic client: events pass as they are.
#[derive(Default)]
pub struct AnthropicPassthrough {
    seen: Observed,
}

impl StreamTranslator for AnthropicPassthrough {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String> {
        if let Some(v) = parse(ev) {
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
            *usage = usage::from_anthropic(v.pointer("/message/usage").unwrap_or(&Value::Null));
        }
        Some("message_delta") => {
            if let Some(u) = v.get("usage") {
                if let Some(out) = u.get("output_tokens").and_then(Value::as_i64) {
                    usage.output = out;
                }
                if let Some(inp) = u.get("input_tokens").and_then(Value::as_i64) {
                    usage.input = inp;
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
pub struct OpenAiToAnthropic {
    model: String,
    started: bool,
    /// Index and kind ("text" or "tool") of the open content block.
    open: Option<(usize, &'static str)>,
    next_index: usize,
    /// OpenAI tool-call index → Anthropic block index.
    tool_blocks: Vec<(i64, usize)>,
    stop: Option<String>,
    seen: Observed,
}

impl OpenAiToAnthropic {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            started: false,
            open: None,
            next_index: 0,
            tool_blocks: Vec::new(),
            stop: None,
            seen: Observed::default(),
        }
    }

    fn frame(event: &str, data: Value) -> String {
        encode(Some(event), &data.to_string())
    }

    fn start(&mut self, id: &str, out: &mut Vec<String>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push(Self::frame(
            "message_start",
            json!({
                "type": "message_start",
                "message": { "id": format!("msg_{id}"), "type": "message", "role": "assistant",
                    "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": { "input_tokens": 0, "output_tokens": 0 } },
            }),
        ));
    }

    fn close(&mut self, out: &mut Vec<String>) {
        if let Some((index, _)) = self.open.take() {
            out.push(Self::frame(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": index }),
            ));
        }
    }

    fn open_block(&mut self, kind: &'static str, block: Value, out: &mut Vec<String>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        out.push(Self::frame(
            "content_block_start",
            json!({
                "type": "content_block_start", "index": index, "content_block": block,
            }),
        ));
        index
    }

    fn on_text(&mut self, text: &str, out: &mut Vec<String>) {
        let index = match self.open {
            Some((i, "text")) => i,
            _ => self.open_block("text", json!({ "type": "text", "text": "" }), out),
        };
        out.push(Self::frame(
            "content_block_delta",
            json!({
                "type": "content_block_delta", "index": index,
                "delta": { "type": "text_delta", "text": text },
            }),
        ));
    }

    fn on_tool_call(&mut self, call: &Value, out: &mut Vec<String>) {
        let oi = call.get("index").and_then(Value::as_i64).unwrap_or(0);
        let known = self
            .tool_blocks
            .iter()
            .find(|(k, _)| *k == oi)
            .map(|(_, b)| *b);
        let index = match known {
            Some(b) => b,
            None => {
                let block = json!({ "type": "tool_use", "id": call.get("id"),
                    "name": call.pointer("/function/name"), "input": {} });
                let b = self.open_block("tool", block, out);
                self.tool_blocks.push((oi, b));
                b
            }
        };
        if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
            if !args.is_empty() {
                out.push(Self::frame(
                    "content_block_delta",
                    json!({
                        "type": "content_block_delta", "index": index,
                        "delta": { "type": "input_json_delta", "partial_json": args },
                    }),
                ));
            }
        }
    }
}

impl StreamTranslator for OpenAiToAnthropic {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String> {
        let mut out = Vec::new();
        if ev.data.trim() == "[DONE]" {
            self.seen.completed = true;
            return out;
        }
        let Some(v) = parse(ev) else { return out };
        self.start(
            v.get("id").and_then(Value::as_str).unwrap_or("atrium"),
            &mut out,
        );
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.seen.usage = usage::from_openai(u);
        }
        for choice in v
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                if !text.is_empty() {
                    self.on_text(text, &mut out);
                }
            }
            for call in choice
                .pointer("/delta/tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.on_tool_call(call, &mut out);
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                self.stop = Some(stop_reason(f).to_string());
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        self.start("atrium", &mut out);
        self.close(&mut out);
        out.push(Self::frame("message_delta", json!({
            "type": "message_delta",
            "delta": { "stop_reason": self.stop.as_deref().unwrap_or("end_turn"), "stop_sequence": null },
            "usage": usage::to_anthropic(&self.seen.usage),
        })));
        out.push(Self::frame(
            "message_stop",
            json!({ "type": "message_stop" }),
        ));
        out
    }

    fn observed(&self) -> Observed {
        self.seen
    }
}

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
                if let Some(id) = v.pointer("/message/id").and_then(Value::as_str) {
                    self.id = format!("chatcmpl-{id}");
                }
                vec![self.chunk(json!({ "role": "assistant", "content": "" }), None)]
            }
            Some("content_block_start")
                if v.pointer("/content_block/type") == Some(&json!("tool_use")) =>
            {
                let block = v.get("index").and_then(Value::as_i64).unwrap_or(0);
                let idx = self.tool_calls.len();
                self.tool_calls.push((block, idx));
                vec![self.chunk(
                    json!({ "tool_calls": [{ "index": idx,
                    "id": v.pointer("/content_block/id"), "type": "function",
                    "function": { "name": v.pointer("/content_block/name"), "arguments": "" } }] }),
                    None,
                )]
            }
            Some("content_block_delta") => match v.pointer("/delta/type").and_then(Value::as_str) {
                Some("text_delta") => {
                    vec![self.chunk(json!({ "content": v.pointer("/delta/text") }), None)]
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
                        "function": { "arguments": v.pointer("/delta/partial_json") } }] }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::gateway::sse::SseParser;

    fn events(frames: &[String]) -> Vec<Value> {
        let mut p = SseParser::default();
        p.push(frames.concat().as_bytes())
            .into_iter()
            .filter(|e| e.data != "[DONE]")
            .filter_map(|e| serde_json::from_str(&e.data).ok())
            .collect()
    }

    fn data(v: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: v.to_string(),
        }
    }

    #[test]
    fn openai_stream_becomes_anthropic_events() {
        let mut t = OpenAiToAnthropic::new("alias");
        let mut out = Vec::new();
        out.extend(t.on_event(&data(
            json!({"id": "c", "choices": [{"delta": {"role": "assistant", "content": ""}}]}),
        )));
        out.extend(t.on_event(&data(
            json!({"id": "c", "choices": [{"delta": {"content": "Hel"}}]}),
        )));
        out.extend(t.on_event(&data(
            json!({"id": "c", "choices": [{"delta": {"content": "lo"}}]}),
        )));
        out.extend(t.on_event(&data(
            json!({"id": "c", "choices": [{"delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{\"a\""}}]}}]}),
        )));
        out.extend(t.on_event(&data(
            json!({"id": "c", "choices": [{"delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
        )));
        out.extend(t.on_event(&data(json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}))));
        out.extend(t.on_event(&SseEvent {
            event: None,
            data: "[DONE]".into(),
        }));
        out.extend(t.finish());
        let types: Vec<String> = events(&out)
            .iter()
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let evs = events(&out);
        assert_eq!(evs[5]["content_block"]["name"], "f");
        assert_eq!(evs[9]["delta"]["stop_reason"], "tool_use");
        assert_eq!(evs[9]["usage"]["output_tokens"], 4);
        assert!(t.completed());
        assert_eq!(t.usage().input, 9);
    }

    #[test]
    fn anthropic_stream_becomes_openai_chunks() {
        let mut t = AnthropicToOpenAi::new("alias", true);
        let seq = [
            json!({"type": "message_start", "message": {"id": "m1", "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu", "name": "f", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
            json!({"type": "message_stop"}),
        ];
        let mut out = Vec::new();
        for e in seq {
            out.extend(t.on_event(&data(e)));
        }
        out.extend(t.finish());
        assert!(out.last().is_some_and(|f| f.contains("[DONE]")));
        let chunks = events(&out);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[5]["usage"]["prompt_tokens"], 12);
        assert_eq!(chunks[5]["usage"]["completion_tokens"], 5);
        assert!(t.completed());
    }

    #[test]
    fn openai_passthrough_hides_usage_unless_asked() {
        let usage_chunk =
            data(json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}));
        let mut hidden = OpenAiPassthrough::new(false);
        assert!(hidden.on_event(&usage_chunk).is_empty());
        assert_eq!(hidden.usage().output, 2);
        let mut shown = OpenAiPassthrough::new(true);
        assert_eq!(shown.on_event(&usage_chunk).len(), 1);
    }
}

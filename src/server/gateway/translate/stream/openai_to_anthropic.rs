//! An OpenAI chunk stream as Anthropic's Messages event sequence.

use serde::Serialize;
use serde_json::{json, Value};

use super::super::{stop_reason, usage};
use super::{field, parse, view, Observed, StreamTranslator};
use crate::server::gateway::sse::{encode, SseEvent};

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

    /// A `content_block_delta`: nearly every frame of a stream, so written
    /// from a struct rather than built as a `Value` map first.
    fn delta(index: usize, delta: Delta) -> String {
        let data = DeltaEvent {
            kind: "content_block_delta",
            index,
            delta,
        };
        // Serializing strings and integers cannot fail.
        encode(
            Some("content_block_delta"),
            &serde_json::to_string(&data).unwrap_or_default(),
        )
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
        out.push(Self::delta(index, Delta::TextDelta { text }));
    }

    /// A chunk read whole: any chunk the view does not take, with the
    /// same reading of the same fields.
    pub(super) fn on_value(&mut self, ev: &SseEvent, out: &mut Vec<String>) {
        let Some(v) = parse(ev) else { return };
        self.start(v.get("id").and_then(Value::as_str).unwrap_or("atrium"), out);
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.seen.usage = usage::from_openai(u);
        }
        for choice in v
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = field(choice, "delta", "content").and_then(Value::as_str) {
                if !text.is_empty() {
                    self.on_text(text, out);
                }
            }
            for call in field(choice, "delta", "tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.on_tool_call(call, out);
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                self.stop = Some(stop_reason(f).to_string());
            }
        }
    }

    /// A chunk the view read (text and finish reasons, no tool calls).
    fn on_chunk(&mut self, chunk: view::Chunk<'_>, out: &mut Vec<String>) {
        self.start(chunk.id.as_ref().map_or("atrium", |t| &t.0), out);
        if let Some(u) = chunk.usage {
            self.seen.usage = usage::from_openai(&u);
        }
        for choice in chunk.choices {
            if let Some(text) = choice.content.as_ref().filter(|t| !t.0.is_empty()) {
                self.on_text(&text.0, out);
            }
            if let Some(f) = choice.finish_reason {
                self.stop = Some(stop_reason(&f.0).to_string());
            }
        }
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
                    "name": call.get("function").and_then(|f| f.get("name")), "input": {} });
                let b = self.open_block("tool", block, out);
                self.tool_blocks.push((oi, b));
                b
            }
        };
        if let Some(args) = field(call, "function", "arguments").and_then(Value::as_str) {
            if !args.is_empty() {
                out.push(Self::delta(
                    index,
                    Delta::InputJsonDelta { partial_json: args },
                ));
            }
        }
    }
}

#[derive(Serialize)]
struct DeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    delta: Delta<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta<'a> {
    TextDelta { text: &'a str },
    InputJsonDelta { partial_json: &'a str },
}

impl StreamTranslator for OpenAiToAnthropic {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<String> {
        let mut out = Vec::new();
        if ev.data.trim() == "[DONE]" {
            self.seen.completed = true;
            return out;
        }
        match view::read(&ev.data) {
            Some(chunk) => self.on_chunk(chunk, &mut out),
            None => self.on_value(ev, &mut out),
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

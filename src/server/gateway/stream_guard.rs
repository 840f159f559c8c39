//! Response rules on a streamed answer, applied to the frames the client
//! receives (after translation, so one guard serves every dialect pair).
//! Text deltas are held back and released redacted by
//! [`StreamedText`](crate::domain::policy::stream::StreamedText); every
//! other frame passes as it is, after any text it must follow.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::dialect::Dialect;
use super::sse::{encode, SseEvent, SseParser};
use crate::domain::policy::stream::{Step, StreamedText};
use crate::domain::policy::{Decision, PolicyRule};

/// A block rule matched: the stream must end with an error instead.
pub struct Blocked;

pub struct StreamGuard {
    dialect: Dialect,
    rules: Arc<[PolicyRule]>,
    /// Per content block (Anthropic) or choice (OpenAI).
    texts: BTreeMap<i64, StreamedText>,
    /// Every decision so far, for the audit.
    pub overall: Decision,
    /// OpenAI chunk fields to repeat on a chunk the guard makes itself.
    chunk_head: Value,
}

impl StreamGuard {
    pub fn new(dialect: Dialect, rules: Arc<[PolicyRule]>) -> Self {
        StreamGuard {
            dialect,
            rules,
            texts: BTreeMap::new(),
            overall: Decision::allow(),
            chunk_head: json!({ "object": "chat.completion.chunk" }),
        }
    }

    /// The frames to send in place of `frames`.
    pub fn frames(&mut self, frames: Vec<String>) -> Result<Vec<String>, Blocked> {
        let mut out = Vec::with_capacity(frames.len());
        let mut parser = SseParser::default();
        for frame in frames {
            for ev in parser.push(frame.as_bytes()) {
                match self.dialect {
                    Dialect::Anthropic => self.anthropic(&ev, &mut out)?,
                    Dialect::OpenAi => self.openai(&ev, &mut out)?,
                }
            }
        }
        Ok(out)
    }

    fn step(&mut self, index: i64, delta: Option<&str>) -> Result<String, Blocked> {
        let text = self.texts.entry(index).or_default();
        let step = match delta {
            Some(d) => text.push(d, &self.rules, &mut self.overall),
            None => text.finish(&self.rules, &mut self.overall),
        };
        match step {
            Step::Release(t) => Ok(t),
            Step::Block => Err(Blocked),
        }
    }

    fn anthropic(&mut self, ev: &SseEvent, out: &mut Vec<String>) -> Result<(), Blocked> {
        let v: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
        let index = v.get("index").and_then(Value::as_i64).unwrap_or(0);
        let text_delta = v.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta");
        match v.get("type").and_then(Value::as_str) {
            Some("content_block_delta") if text_delta => {
                let delta = v
                    .pointer("/delta/text")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let released = self.step(index, Some(delta))?;
                push_text_delta(out, index, released);
                return Ok(());
            }
            Some("content_block_stop") => {
                let rest = self.step(index, None)?;
                push_text_delta(out, index, rest);
            }
            Some("message_delta" | "message_stop") => {
                for index in self.open_texts() {
                    let rest = self.step(index, None)?;
                    push_text_delta(out, index, rest);
                }
            }
            _ => {}
        }
        out.push(encode(ev.event.as_deref(), &ev.data));
        Ok(())
    }

    fn openai(&mut self, ev: &SseEvent, out: &mut Vec<String>) -> Result<(), Blocked> {
        let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) else {
            // `[DONE]`: whatever is still held goes out first.
            for index in self.open_texts() {
                let rest = self.step(index, None)?;
                if !rest.is_empty() {
                    out.push(encode(None, &self.chunk(index, &rest).to_string()));
                }
            }
            out.push(encode(None, &ev.data));
            return Ok(());
        };
        self.remember_head(&v);
        let choices = v.get_mut("choices").and_then(Value::as_array_mut);
        for choice in choices.into_iter().flatten() {
            let index = choice.get("index").and_then(Value::as_i64).unwrap_or(0);
            let Some(content) = choice.pointer("/delta/content").and_then(Value::as_str) else {
                continue;
            };
            let mut text = self.step(index, Some(content))?;
            if choice.get("finish_reason").is_some_and(|r| !r.is_null()) {
                text.push_str(&self.step(index, None)?);
            }
            choice["delta"]["content"] = Value::String(text);
        }
        out.push(encode(None, &v.to_string()));
        Ok(())
    }

    fn open_texts(&self) -> Vec<i64> {
        self.texts
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(i, _)| *i)
            .collect()
    }

    fn remember_head(&mut self, chunk: &Value) {
        for key in ["id", "created", "model", "system_fingerprint"] {
            if let Some(v) = chunk.get(key) {
                self.chunk_head[key] = v.clone();
            }
        }
    }

    fn chunk(&self, index: i64, text: &str) -> Value {
        let mut c = self.chunk_head.clone();
        c["choices"] =
            json!([{ "index": index, "delta": { "content": text }, "finish_reason": null }]);
        c
    }
}

fn push_text_delta(out: &mut Vec<String>, index: i64, text: String) {
    if text.is_empty() {
        return;
    }
    let data = json!({
        "type": "content_block_delta", "index": index,
        "delta": { "type": "text_delta", "text": text },
    });
    out.push(encode(Some("content_block_delta"), &data.to_string()));
}

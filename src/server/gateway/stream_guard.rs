//! Response rules on a streamed answer, applied to the frames the client
//! receives (after translation, so one guard serves every dialect pair).
//! Every streamed string is guarded, not only the answer's text: each
//! delta field (`Field`) is held back and released redacted by
//! [`StreamedText`](crate::domain::policy::stream::StreamedText), so a value
//! split across deltas of a tool call's arguments, a thinking block or
//! reasoning content is caught like one in text. Anthropic's other events
//! (a block's start, citations, the message) are scanned whole; OpenAI's
//! chunks carry nothing else but protocol fields.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::dialect::Dialect;
use super::govern;
use super::sse::{encode, SseEvent, SseParser};
use super::translate::stream::field;
use crate::domain::policy::stream::{Step, StreamedText};
use crate::domain::policy::{Action, Decision, Direction, PolicyRule};

/// A block rule matched: the stream must end with an error instead.
pub struct Blocked;

/// Which streamed string a delta extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    /// An Anthropic content block's delta, by its type.
    Block(i64, BlockDelta),
    /// An OpenAI choice's part.
    Choice(i64, ChoicePart),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum BlockDelta {
    Text,
    Json,
    Thinking,
}

impl BlockDelta {
    fn of(delta_type: &str) -> Option<Self> {
        match delta_type {
            "text_delta" => Some(BlockDelta::Text),
            "input_json_delta" => Some(BlockDelta::Json),
            "thinking_delta" => Some(BlockDelta::Thinking),
            _ => None,
        }
    }

    /// The delta's type and the name of its string.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            BlockDelta::Text => ("text_delta", "text"),
            BlockDelta::Json => ("input_json_delta", "partial_json"),
            BlockDelta::Thinking => ("thinking_delta", "thinking"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ChoicePart {
    Content,
    Reasoning,
    Refusal,
    /// A tool call's `function.arguments`, by the call's index.
    Arguments(i64),
}

impl ChoicePart {
    const PLAIN: [(ChoicePart, &'static str); 3] = [
        (ChoicePart::Content, "content"),
        (ChoicePart::Reasoning, "reasoning_content"),
        (ChoicePart::Refusal, "refusal"),
    ];

    /// A delta carrying `text` in this part.
    fn delta(self, text: &str) -> Value {
        match self {
            ChoicePart::Content => json!({ "content": text }),
            ChoicePart::Reasoning => json!({ "reasoning_content": text }),
            ChoicePart::Refusal => json!({ "refusal": text }),
            ChoicePart::Arguments(i) => {
                json!({ "tool_calls": [{ "index": i, "function": { "arguments": text } }] })
            }
        }
    }
}

pub struct StreamGuard {
    dialect: Dialect,
    rules: Arc<[PolicyRule]>,
    texts: BTreeMap<Field, StreamedText>,
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

    fn step(&mut self, field: Field, delta: Option<&str>) -> Result<String, Blocked> {
        let text = self.texts.entry(field).or_default();
        let step = match delta {
            Some(d) => text.push(d, &self.rules, &mut self.overall),
            None => text.finish(&self.rules, &mut self.overall),
        };
        match step {
            Step::Release(t) => Ok(t),
            Step::Block => Err(Blocked),
        }
    }

    /// What to send of `field` after `delta`; with `last`, the rest too.
    fn extend(&mut self, field: Field, delta: &str, last: bool) -> Result<String, Blocked> {
        let mut text = self.step(field, Some(delta))?;
        if last {
            text.push_str(&self.step(field, None)?);
        }
        Ok(text)
    }

    /// Ends every open string `which` selects; returns what each held.
    fn flush(&mut self, which: impl Fn(&Field) -> bool) -> Result<Vec<(Field, String)>, Blocked> {
        let open: Vec<Field> = self
            .texts
            .iter()
            .filter(|(f, t)| which(f) && !t.is_empty())
            .map(|(f, _)| *f)
            .collect();
        open.into_iter()
            .map(|f| Ok((f, self.step(f, None)?)))
            .collect()
    }

    fn anthropic(&mut self, ev: &SseEvent, out: &mut Vec<String>) -> Result<(), Blocked> {
        let mut v: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
        let index = v.get("index").and_then(Value::as_i64).unwrap_or(0);
        // Look-ups by key: `pointer` allocates per segment, per event.
        let kind = field(&v, "delta", "type").and_then(Value::as_str);
        match v.get("type").and_then(Value::as_str) {
            Some("content_block_delta") => {
                if let Some(kind) = kind.and_then(BlockDelta::of) {
                    let name = kind.names().1;
                    let delta = field(&v, "delta", name).and_then(Value::as_str);
                    let released =
                        self.step(Field::Block(index, kind), Some(delta.unwrap_or("")))?;
                    push_block_delta(out, index, kind, released);
                    return Ok(());
                }
            }
            Some("content_block_stop") => {
                let held = self.flush(|f| matches!(f, Field::Block(i, _) if *i == index))?;
                push_held(out, held);
            }
            Some("message_delta" | "message_stop") => {
                let held = self.flush(|_| true)?;
                push_held(out, held);
            }
            _ => {}
        }
        // A thinking block's signature is opaque: it passes as it is.
        if kind == Some("signature_delta") {
            out.push(encode(ev.event.as_deref(), &ev.data));
            return Ok(());
        }
        self.scanned(ev.event.as_deref(), &ev.data, &mut v, out)
    }

    /// An event scanned whole: passed as it came, redacted, or blocked.
    fn scanned(
        &mut self,
        event: Option<&str>,
        data: &str,
        v: &mut Value,
        out: &mut Vec<String>,
    ) -> Result<(), Blocked> {
        if v.is_null() {
            out.push(encode(event, data));
            return Ok(());
        }
        match govern::scan_value(&self.rules, Direction::Response, v, &mut self.overall) {
            Action::Block => Err(Blocked),
            Action::Redact => {
                out.push(encode(event, &v.to_string()));
                Ok(())
            }
            Action::Allow | Action::Flag => {
                out.push(encode(event, data));
                Ok(())
            }
        }
    }

    fn openai(&mut self, ev: &SseEvent, out: &mut Vec<String>) -> Result<(), Blocked> {
        let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) else {
            // `[DONE]`: whatever is still held goes out first.
            for (field, rest) in self.flush(|_| true)? {
                self.push_chunk(out, field, &rest);
            }
            out.push(encode(None, &ev.data));
            return Ok(());
        };
        self.remember_head(&v);
        let choices = v.get_mut("choices").and_then(Value::as_array_mut);
        for choice in choices.into_iter().flatten() {
            let index = choice.get("index").and_then(Value::as_i64).unwrap_or(0);
            let finished = choice.get("finish_reason").is_some_and(|r| !r.is_null());
            let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) else {
                continue;
            };
            for (part, name) in ChoicePart::PLAIN {
                if let Some(Value::String(s)) = delta.get_mut(name) {
                    *s = self.extend(Field::Choice(index, part), s, finished)?;
                }
            }
            let calls = delta.get_mut("tool_calls").and_then(Value::as_array_mut);
            for call in calls.into_iter().flatten() {
                let i = call.get("index").and_then(Value::as_i64).unwrap_or(0);
                let arguments = call
                    .get_mut("function")
                    .and_then(|f| f.get_mut("arguments"));
                if let Some(Value::String(s)) = arguments {
                    let field = Field::Choice(index, ChoicePart::Arguments(i));
                    *s = self.extend(field, s, finished)?;
                }
            }
            // Strings this last chunk did not extend end before it.
            if finished {
                let held = self.flush(|f| matches!(f, Field::Choice(c, _) if *c == index))?;
                for (field, rest) in held {
                    self.push_chunk(out, field, &rest);
                }
            }
        }
        out.push(encode(None, &v.to_string()));
        Ok(())
    }

    fn remember_head(&mut self, chunk: &Value) {
        for key in ["id", "created", "model", "system_fingerprint"] {
            if let Some(v) = chunk.get(key) {
                self.chunk_head[key] = v.clone();
            }
        }
    }

    /// A chunk of the guard's own, carrying held text of `field`.
    fn push_chunk(&self, out: &mut Vec<String>, field: Field, text: &str) {
        let Field::Choice(index, part) = field else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let mut c = self.chunk_head.clone();
        c["choices"] =
            json!([{ "index": index, "delta": part.delta(text), "finish_reason": null }]);
        out.push(encode(None, &c.to_string()));
    }
}

fn push_held(out: &mut Vec<String>, held: Vec<(Field, String)>) {
    for (field, text) in held {
        if let Field::Block(index, kind) = field {
            push_block_delta(out, index, kind, text);
        }
    }
}

fn push_block_delta(out: &mut Vec<String>, index: i64, kind: BlockDelta, text: String) {
    if text.is_empty() {
        return;
    }
    let (ty, name) = kind.names();
    let mut delta = json!({ "type": ty });
    delta[name] = Value::String(text);
    let data = json!({ "type": "content_block_delta", "index": index, "delta": delta });
    out.push(encode(Some("content_block_delta"), &data.to_string()));
}

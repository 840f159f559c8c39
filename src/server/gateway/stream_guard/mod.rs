//! Response rules on a streamed answer, applied to the frames the client
//! receives (after translation, so one guard serves every dialect pair).
//! Every streamed string is guarded, not only the answer's text: each
//! delta field (`Field`) is held back and released redacted by
//! [`StreamedText`](crate::domain::policy::stream::StreamedText), so a value
//! split across deltas of a tool call's arguments, a thinking block or
//! reasoning content is caught like one in text. Anthropic's other events
//! (a block's start, citations, the message) are scanned whole, and so is
//! every other string of an OpenAI delta (a function's name, annotations,
//! a member this guard does not know).
//!
//! Most frames are a text delta that goes out as it came (no finding, no
//! held text): those are read through borrowed views and sent as they are,
//! and a delta that changes is rewritten only where its string is. Any
//! frame the views do not fully describe takes the general path, which
//! reads it into a `Value`.

mod anthropic;
#[cfg(test)]
mod field_tests;
mod openai;
mod openai_choice;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::dialect::Dialect;
use super::sse::{encode, SseEvent, SseParser};
use crate::domain::policy::stream::{Step, StreamedText};
use crate::domain::policy::{Decision, PolicyRule};

/// The one event of a frame that is one `data:` line, after at most an
/// `event:` line (the shapes `encode` gives every frame of one-line data),
/// read without the parser, as it would read it. Any other frame, `None`,
/// goes to the parser.
fn one_event(frame: &str) -> Option<SseEvent> {
    let body = frame.strip_suffix("\n\n")?;
    if body.contains('\r') {
        return None;
    }
    let (event, line) = match body.split_once('\n') {
        Some((first, rest)) => (Some(first.strip_prefix("event:")?.trim()), rest),
        None => (None, body),
    };
    let data = line.strip_prefix("data:")?;
    if data.contains('\n') {
        return None;
    }
    Some(SseEvent {
        event: event.map(str::to_owned),
        data: data.strip_prefix(' ').unwrap_or(data).to_owned(),
    })
}

/// A block rule matched: the stream must end with an error instead.
pub struct Blocked;

/// What became of one event: the frames it made were pushed, or it goes
/// out exactly as it came (the caller sends the frame it already has).
enum Verdict {
    Pushed,
    Unchanged,
}

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
    /// `reasoning`: what vLLM and OpenRouter call `reasoning_content`.
    ReasoningText,
    /// A tool call's `function.arguments`, by the call's index.
    Arguments(i64),
    /// The legacy `function_call.arguments` (one call per choice).
    FunctionArguments,
    /// An audio answer's `audio.transcript` (its sound is dropped).
    Transcript,
    /// A choice's own `text`, beside its delta: some providers repeat each
    /// token there, as the legacy completions API sends it.
    ChoiceText,
}

impl ChoicePart {
    const PLAIN: [(ChoicePart, &'static str); 4] = [
        (ChoicePart::Content, "content"),
        (ChoicePart::Reasoning, "reasoning_content"),
        (ChoicePart::Refusal, "refusal"),
        (ChoicePart::ReasoningText, "reasoning"),
    ];

    /// A choice of its own carrying `text` in this part.
    fn choice(self, index: i64, text: &str) -> Value {
        match self {
            ChoicePart::ChoiceText => {
                json!({ "index": index, "delta": {}, "text": text, "finish_reason": null })
            }
            _ => json!({ "index": index, "delta": self.delta(text), "finish_reason": null }),
        }
    }

    /// A delta carrying `text` in this part.
    fn delta(self, text: &str) -> Value {
        match self {
            ChoicePart::ChoiceText => json!({}),
            ChoicePart::Content => json!({ "content": text }),
            ChoicePart::Reasoning => json!({ "reasoning_content": text }),
            ChoicePart::Refusal => json!({ "refusal": text }),
            ChoicePart::ReasoningText => json!({ "reasoning": text }),
            ChoicePart::Arguments(i) => {
                json!({ "tool_calls": [{ "index": i, "function": { "arguments": text } }] })
            }
            ChoicePart::FunctionArguments => json!({ "function_call": { "arguments": text } }),
            ChoicePart::Transcript => json!({ "audio": { "transcript": text } }),
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
    head: openai::ChunkHead,
}

impl StreamGuard {
    pub fn new(dialect: Dialect, rules: Arc<[PolicyRule]>) -> Self {
        StreamGuard {
            dialect,
            rules,
            texts: BTreeMap::new(),
            overall: Decision::allow(),
            head: openai::ChunkHead::default(),
        }
    }

    /// The frames to send in place of `frames`. A frame whose one event
    /// goes out unchanged is sent as it is, not encoded again.
    pub fn frames(&mut self, frames: Vec<String>) -> Result<Vec<String>, Blocked> {
        let mut out = Vec::with_capacity(frames.len());
        let mut parser = SseParser::default();
        for frame in frames {
            if let Some(ev) = one_event(&frame) {
                if let Verdict::Unchanged = self.event(&ev, &mut out)? {
                    out.push(frame);
                }
                continue;
            }
            let events = parser.push(frame.as_bytes());
            let whole = events.len() == 1;
            for ev in events {
                match self.event(&ev, &mut out)? {
                    Verdict::Unchanged if whole => {
                        out.push(frame);
                        break;
                    }
                    Verdict::Unchanged => out.push(encode(ev.event.as_deref(), &ev.data)),
                    Verdict::Pushed => {}
                }
            }
        }
        Ok(out)
    }

    fn event(&mut self, ev: &SseEvent, out: &mut Vec<String>) -> Result<Verdict, Blocked> {
        match self.dialect {
            Dialect::Anthropic => self.anthropic(ev, out),
            Dialect::OpenAi => self.openai(ev, out),
        }
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

    /// An event whose data is not JSON (a broken provider) is not sent:
    /// a client may still parse it (lone surrogates and numbers out of
    /// range are JSON to some), with escapes that hide a value from any
    /// scan of its text (`\u0040`), and it joins no held text.
    fn not_json() -> Result<Verdict, Blocked> {
        Ok(Verdict::Pushed)
    }
}

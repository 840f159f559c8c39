//! The guard on OpenAI's chunks: each choice's content, reasoning,
//! refusal, tool call and function call arguments and audio transcript
//! are held and released by field.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Blocked, ChoicePart, Field, StreamGuard, Verdict};
use crate::server::gateway::govern;
use crate::server::gateway::raw_json::{span, splice};
use crate::server::gateway::sse::{encode, SseEvent};
use crate::server::gateway::translate::stream::view::{Obj, Text};

/// The fields a chunk the guard makes itself repeats from the provider's.
const HEAD_KEYS: [&str; 4] = ["id", "created", "model", "system_fingerprint"];

/// Each of `HEAD_KEYS` as the provider last sent it (raw JSON).
#[derive(Default)]
pub(super) struct ChunkHead([Option<Box<RawValue>>; 4]);

impl ChunkHead {
    /// Copies only when the value changed: most streams repeat one head.
    fn keep(&mut self, i: usize, raw: &RawValue) {
        if self.0[i].as_deref().map(RawValue::get) != Some(raw.get()) {
            self.0[i] = Some(raw.to_owned());
        }
    }

    /// A chunk of the guard's own: this head and `choices`.
    fn chunk(&self, choices: &Value) -> String {
        let mut s = String::from("{\"object\":\"chat.completion.chunk\"");
        for (key, raw) in HEAD_KEYS.iter().zip(&self.0) {
            if let Some(raw) = raw {
                s.push_str(",\"");
                s.push_str(key);
                s.push_str("\":");
                s.push_str(raw.get());
            }
        }
        s.push_str(",\"choices\":");
        s.push_str(&choices.to_string());
        s.push('}');
        s
    }
}

/// A chunk as the guard reads it, borrowed from its data, in one pass
/// (choices and deltas are [`Obj`]s). A chunk the view does not fit
/// (another shape, a duplicate key, a member it does not know) or with
/// tool calls takes the general path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkView<'a> {
    /// The rest of `openai_choice::CHUNK_KNOWN`: passed as they came.
    #[serde(default, rename = "object")]
    _object: Option<IgnoredAny>,
    #[serde(default, rename = "usage")]
    _usage: Option<IgnoredAny>,
    #[serde(default, rename = "service_tier")]
    _service_tier: Option<IgnoredAny>,
    #[serde(default, rename = "obfuscation")]
    _obfuscation: Option<IgnoredAny>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    created: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    model: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    system_fingerprint: Option<&'a RawValue>,
    #[serde(borrow, default)]
    choices: Option<Vec<Obj<ChoiceView<'a>>>>,
}

/// A choice of the members the view knows, and no other: any other (a
/// provider's `text` or `stop_reason`) takes the general path, which scans
/// it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceView<'a> {
    #[serde(default)]
    index: Option<i64>,
    /// A string only: anything else there takes the general path, which
    /// scans it (only a string is vocabulary).
    #[serde(borrow, default)]
    finish_reason: Option<Text<'a>>,
    #[serde(borrow, default)]
    delta: Option<Obj<DeltaView<'a>>>,
    /// Log probabilities (not `null`): the general path takes them out.
    #[serde(borrow, default)]
    logprobs: Option<&'a RawValue>,
}

/// A choice as the general path reads it.
struct Choice<'a> {
    index: i64,
    finished: bool,
    delta: Option<DeltaView<'a>>,
    logprobs: bool,
}

/// A delta of the fields the view knows, and no other: a delta with any
/// other member (a function call, audio, annotations, a field this guard
/// does not know) fails the view and takes the general path, which scans
/// every string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaView<'a> {
    /// A string only: anything else there takes the general path.
    #[serde(borrow, default, rename = "role")]
    _role: Option<Text<'a>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning_content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
}

/// A head field that is `null` is kept as `null`, as the general path does.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// One guarded string of a viewed chunk: its choice (by position), part,
/// where it is in the data, and its text.
struct Guarded<'a> {
    choice: usize,
    part: ChoicePart,
    span: Range<usize>,
    text: Cow<'a, str>,
}

impl<'a> ChunkView<'a> {
    /// Every choice (each an object with an object or no delta, or the
    /// view would have failed).
    fn choices(self) -> Vec<Choice<'a>> {
        let choices = self.choices.unwrap_or_default().into_iter();
        choices
            .map(|Obj(c)| Choice {
                index: c.index.unwrap_or(0),
                finished: c.finish_reason.is_some(),
                delta: c.delta.map(|Obj(d)| d),
                logprobs: c.logprobs.is_some(),
            })
            .collect()
    }

    fn head(&self) -> [Option<&'a RawValue>; 4] {
        [self.id, self.created, self.model, self.system_fingerprint]
    }
}

/// Every guarded string, in the general path's order (by choice, then
/// content, reasoning, refusal, vLLM's reasoning). `None` when a choice has tool calls, log
/// probabilities, a part that is not a string, or a string the view
/// cannot place.
fn guarded<'a>(choices: &[Choice<'a>], data: &'a str) -> Option<Vec<Guarded<'a>>> {
    let mut out = Vec::with_capacity(1);
    for (choice, c) in choices.iter().enumerate() {
        if c.logprobs {
            return None;
        }
        let Some(d) = &c.delta else { continue };
        if d.tool_calls.is_some() {
            return None;
        }
        let parts = [d.content, d.reasoning_content, d.refusal, d.reasoning];
        for ((part, _), raw) in ChoicePart::PLAIN.into_iter().zip(parts) {
            let Some(raw) = raw else { continue };
            if !raw.get().starts_with('"') {
                return None;
            }
            let span = span(data, raw)?;
            let Text(text) = serde_json::from_str(&data[span.clone()]).ok()?;
            out.push(Guarded {
                choice,
                part,
                span,
                text,
            });
        }
    }
    Some(out)
}

impl StreamGuard {
    pub(super) fn openai(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<String>,
    ) -> Result<Verdict, Blocked> {
        if let Ok(Obj(view)) = serde_json::from_str::<Obj<ChunkView>>(&ev.data) {
            let head = view.head();
            let choices = view.choices();
            if let Some(strings) = guarded(&choices, &ev.data) {
                return self.viewed(ev, head, &choices, strings, out);
            }
        }
        self.general(ev, out)
    }

    /// A viewed chunk: the same steps as the general path, sent as it
    /// came unless a string changed, and then rewritten only there.
    fn viewed(
        &mut self,
        ev: &SseEvent,
        head: [Option<&RawValue>; 4],
        choices: &[Choice],
        strings: Vec<Guarded>,
        out: &mut Vec<String>,
    ) -> Result<Verdict, Blocked> {
        for (i, raw) in head.into_iter().enumerate() {
            if let Some(raw) = raw {
                self.head.keep(i, raw);
            }
        }
        let mut edits = Vec::new();
        let mut strings = strings.into_iter().peekable();
        for (choice, c) in choices.iter().enumerate() {
            // Only a choice with a delta has strings; any finished choice
            // flushes what it holds.
            let (index, finished) = (c.index, c.finished);
            while let Some(s) = strings.next_if(|s| s.choice == choice) {
                let released = self.extend(Field::Choice(index, s.part), &s.text, finished)?;
                if released != s.text {
                    edits.push((s.span, Value::String(released).to_string()));
                }
            }
            if finished {
                self.flush_choice(index, out)?;
            }
        }
        if edits.is_empty() && ev.event.is_none() {
            return Ok(Verdict::Unchanged);
        }
        out.push(encode(None, &splice(&ev.data, edits)));
        Ok(Verdict::Pushed)
    }

    /// Any chunk, read whole.
    pub(super) fn general(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<String>,
    ) -> Result<Verdict, Blocked> {
        let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) else {
            if ev.data.trim() != "[DONE]" {
                return Self::not_json();
            }
            // `[DONE]`: whatever is still held goes out first.
            for (field, rest) in self.flush(|_| true)? {
                self.push_chunk(out, field, &rest);
            }
            out.push(encode(None, &ev.data));
            return Ok(Verdict::Pushed);
        };
        self.remember_head(&v);
        self.rest_of_chunk(&mut v)?;
        let choices = v.get_mut("choices").and_then(Value::as_array_mut);
        for choice in choices.into_iter().flatten() {
            govern::drop_logprobs(choice);
            let index = choice.get("index").and_then(Value::as_i64).unwrap_or(0);
            let finished = choice.get("finish_reason").is_some_and(|r| !r.is_null());
            self.rest_of_choice(index, choice, finished)?;
            // A delta that is not an object (nor `null`, as the view reads
            // none) is scanned whole.
            if let Some(delta) = choice.get_mut("delta").filter(|d| !d.is_null()) {
                self.delta(index, delta, finished)?;
            }
            // Strings this last chunk did not extend (it may have no delta)
            // end before it.
            if finished {
                self.flush_choice(index, out)?;
            }
        }
        out.push(encode(None, &v.to_string()));
        Ok(Verdict::Pushed)
    }

    /// A finished choice: what it still holds goes out before its last chunk.
    fn flush_choice(&mut self, index: i64, out: &mut Vec<String>) -> Result<(), Blocked> {
        let held = self.flush(|f| matches!(f, Field::Choice(c, _) if *c == index))?;
        for (field, rest) in held {
            self.push_chunk(out, field, &rest);
        }
        Ok(())
    }

    fn remember_head(&mut self, chunk: &Value) {
        for (i, key) in HEAD_KEYS.iter().enumerate() {
            let raw = chunk.get(key).map(serde_json::value::to_raw_value);
            if let Some(Ok(raw)) = raw {
                self.head.keep(i, &raw);
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
        let choices = Value::Array(vec![part.choice(index, text)]);
        out.push(encode(None, &self.head.chunk(&choices)));
    }
}

//! An OpenAI chunk as the Anthropic translation reads it, through borrowed
//! views: nearly every chunk of a stream carries one token of text, and
//! reading it into a `Value` built a map per object of it (3–5% of the
//! gateway's CPU on a translated stream).
//!
//! The view takes only chunks it reads exactly as the `Value` path does:
//! objects where objects belong, the fields' expected types (or null),
//! each member once, and no tool calls. Anything else returns `None` and
//! the chunk is read whole, so an odd chunk costs a second parse, never a
//! different reading.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// What a chunk says: its id, its usage (an object), and per choice the
/// text and finish reason.
pub struct Chunk<'a> {
    pub id: Option<Cow<'a, str>>,
    pub usage: Option<Value>,
    pub choices: Vec<Choice<'a>>,
}

pub struct Choice<'a> {
    pub content: Option<Cow<'a, str>>,
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    choices: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<&'a RawValue>,
}

/// The chunk, or `None` when the `Value` path must read it.
pub fn read(data: &str) -> Option<Chunk<'_>> {
    let view: ChunkView = object(data)?;
    // A usage that is not an object is ignored on both paths.
    let usage = match view.usage {
        Some(raw) if raw.get().starts_with('{') => Some(serde_json::from_str(raw.get()).ok()?),
        _ => None,
    };
    let mut choices = Vec::new();
    for raw in view.choices.unwrap_or_default() {
        let choice: ChoiceView = object(raw.get())?;
        let delta: Option<DeltaView> = match choice.delta {
            Some(raw) => Some(object(raw.get())?),
            None => None,
        };
        if delta.as_ref().is_some_and(|d| d.tool_calls.is_some()) {
            return None;
        }
        choices.push(Choice {
            content: delta.and_then(|d| d.content),
            finish_reason: choice.finish_reason,
        });
    }
    Some(Chunk {
        id: view.id,
        usage,
        choices,
    })
}

/// A view of a JSON object. A derived view would also take an array
/// (fields by position), which the `Value` path reads as no fields.
fn object<'a, T: Deserialize<'a>>(data: &'a str) -> Option<T> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(data).ok()
}

//! An OpenAI chunk as the Anthropic translation reads it, through borrowed
//! views: nearly every chunk of a stream carries one token of text, and
//! reading it into a `Value` built a map per object of it (3–5% of the
//! gateway's CPU on a translated stream).
//!
//! The view takes only chunks whose read fields it reads as the `Value`
//! path does: objects where objects belong, the fields' expected types (or
//! null), each member once, and no tool calls. Anything else returns
//! `None` and the chunk is read whole, so an odd chunk costs a second
//! parse, never a different reading of what is read.
//!
//! One difference, by design: the members the view does not read are
//! skipped as serde skips them, checked for JSON's shape but not for what
//! a `Value` also refuses (an escape of half a surrogate pair, a number
//! out of `f64`'s range, nesting past 128 levels). A chunk with such a
//! member elsewhere is translated, where the `Value` path dropped it
//! whole, text and usage with it; passed-through chunks were already read
//! this way (`UsageView`). Its text is written again as valid JSON and the
//! guard scans it like any other.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// What a chunk says: its id, its usage (an object), and per choice the
/// text and finish reason.
pub struct Chunk<'a> {
    pub id: Option<Text<'a>>,
    pub usage: Option<Value>,
    pub choices: Vec<Choice<'a>>,
}

pub struct Choice<'a> {
    pub content: Option<Text<'a>>,
    pub finish_reason: Option<Text<'a>>,
}

/// A JSON string's text, borrowed unless it has escapes (an `Option` of a
/// bare `Cow` would copy every time).
#[derive(Deserialize)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
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
    finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct DeltaView<'a> {
    #[serde(borrow, default)]
    content: Option<Text<'a>>,
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

/// `data` read as `T` only when it is a JSON object: a derived view would
/// also take an array (fields by position), which the `Value` path reads
/// as no fields.
pub fn object<'a, T: Deserialize<'a>>(data: &'a str) -> Option<T> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(data).ok()
}

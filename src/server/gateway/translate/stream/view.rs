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

use serde::de::Visitor;
use serde::{Deserialize, Deserializer};
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

/// Read in one pass: each choice and delta is an [`Obj`], so a chunk's
/// text is not scanned again for each level it is nested in.
#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    choices: Option<Vec<Obj<ChoiceView<'a>>>>,
}

#[derive(Deserialize)]
struct ChoiceView<'a> {
    #[serde(borrow, default)]
    delta: Option<Obj<DeltaView<'a>>>,
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
    let Obj(view) = serde_json::from_str::<Obj<ChunkView>>(data).ok()?;
    // A usage that is not an object is ignored on both paths.
    let usage = match view.usage {
        Some(raw) if raw.get().starts_with('{') => Some(serde_json::from_str(raw.get()).ok()?),
        _ => None,
    };
    let mut choices = Vec::new();
    for Obj(choice) in view.choices.unwrap_or_default() {
        let delta = choice.delta.map(|Obj(d)| d);
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

/// `T` read only from a JSON object: a derived view would also take an
/// array (its fields by position), which the `Value` path reads as no
/// fields. Anything but an object fails the read, as the check of a
/// captured `RawValue` did, in the same pass as its parent; an
/// `Option<Obj<T>>` still reads `null` as `None`, as `Option<&RawValue>`
/// did. For structs and maps only: a newtype or a `RawValue` asked for
/// as a map never reads.
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(d)).map(Obj)
    }
}

/// A deserializer that reads whatever is asked of it as a map: a derived
/// struct asks for a struct, which serde_json takes from an array too.
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

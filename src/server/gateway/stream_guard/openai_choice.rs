//! The general path's work on an OpenAI chunk beyond its head: each
//! choice's held strings are taken out of its delta and extended, and
//! everything else in the chunk that is not protocol is scanned whole, as
//! a whole answer's is.

use serde_json::Value;

use super::{Blocked, ChoicePart, Field, StreamGuard};

/// A chunk's members that are protocol, not text: the head, `choices`
/// (guarded choice by choice), `usage` (numbers), OpenAI's `service_tier`
/// and `obfuscation` (random padding, which a scan could mistake for a
/// value and block on).
pub(super) const CHUNK_KNOWN: [&str; 9] = [
    "id",
    "object",
    "created",
    "model",
    "system_fingerprint",
    "choices",
    "usage",
    "service_tier",
    "obfuscation",
];
use crate::domain::policy::{Action, Direction};
use crate::server::gateway::govern;
use crate::server::gateway::vocabulary::Position;

/// Where a held string of a delta lies.
#[derive(Clone, Copy)]
enum Slot {
    Plain(&'static str),
    /// `tool_calls[n].function.arguments`, by position in the array.
    Call(usize),
    /// The legacy `function_call.arguments`.
    Function,
    Transcript,
}

impl Slot {
    fn of(self, delta: &mut Value) -> Option<&mut String> {
        let at = match self {
            Slot::Plain(name) => delta.get_mut(name),
            Slot::Call(n) => delta
                .get_mut("tool_calls")?
                .get_mut(n)?
                .get_mut("function")?
                .get_mut("arguments"),
            Slot::Function => delta.get_mut("function_call")?.get_mut("arguments"),
            Slot::Transcript => delta.get_mut("audio")?.get_mut("transcript"),
        };
        match at {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// The held strings of choice `index`'s delta, each with its field, in
/// the order they are extended.
fn slots(index: i64, delta: &mut Value) -> Vec<(Field, Slot)> {
    let mut out: Vec<(Field, Slot)> = ChoicePart::PLAIN
        .into_iter()
        .map(|(part, name)| (Field::Choice(index, part), Slot::Plain(name)))
        .collect();
    let calls = delta.get("tool_calls").and_then(Value::as_array);
    for (n, call) in calls.into_iter().flatten().enumerate() {
        let i = call.get("index").and_then(Value::as_i64).unwrap_or(0);
        out.push((
            Field::Choice(index, ChoicePart::Arguments(i)),
            Slot::Call(n),
        ));
    }
    out.push((
        Field::Choice(index, ChoicePart::FunctionArguments),
        Slot::Function,
    ));
    out.push((
        Field::Choice(index, ChoicePart::Transcript),
        Slot::Transcript,
    ));
    out.retain(|(_, slot)| slot.of(delta).is_some());
    out
}

impl StreamGuard {
    /// One delta in the general path: its held strings are taken out and
    /// extended, and every other string (a function's name, annotations,
    /// a field this guard does not know, a part that is not a string) is
    /// scanned whole, as a whole answer's are. The sound goes first: it is
    /// not text, and its base64 could look like a value to a scan.
    pub(super) fn delta(
        &mut self,
        index: i64,
        delta: &mut Value,
        finished: bool,
    ) -> Result<(), Blocked> {
        if let Some(audio) = delta.get_mut("audio") {
            govern::drop_sound(audio);
        }
        let slots = slots(index, delta);
        let texts: Vec<String> = slots
            .iter()
            .map(|(_, slot)| slot.of(delta).map(std::mem::take).unwrap_or_default())
            .collect();
        let rest = govern::scan_value_at(
            &self.rules,
            Direction::Response,
            delta,
            Position::ChoiceMessage,
            &mut self.overall,
        );
        if rest == Action::Block {
            return Err(Blocked);
        }
        for ((field, slot), text) in slots.into_iter().zip(texts) {
            let released = self.extend(field, &text, finished)?;
            if let Some(s) = slot.of(delta) {
                *s = released;
            }
        }
        Ok(())
    }

    /// A choice's members but its delta and log probabilities (a
    /// provider's `stop_reason`), scanned whole as a whole answer's choice
    /// is; a choice that is not an object, all of it. A `text` string is
    /// held as content is: a provider that repeats each token there would
    /// otherwise pass a value split across tokens.
    pub(super) fn rest_of_choice(
        &mut self,
        index: i64,
        choice: &mut Value,
        finished: bool,
    ) -> Result<(), Blocked> {
        let text = match choice.get_mut("text") {
            Some(Value::String(s)) => Some(std::mem::take(s)),
            _ => None,
        };
        let kept: &[&str] = match text {
            Some(_) => &["delta", "logprobs", "text"],
            None => &["delta", "logprobs"],
        };
        self.scan_except(choice, kept, Position::Choice)?;
        let Some(text) = text else { return Ok(()) };
        let field = Field::Choice(index, ChoicePart::ChoiceText);
        let released = self.extend(field, &text, finished)?;
        if let Some(Value::String(s)) = choice.get_mut("text") {
            *s = released;
        }
        Ok(())
    }

    /// A chunk's members but its choices and those the view also passes
    /// unread (`CHUNK_KNOWN`): a provider's own members, scanned whole; a
    /// chunk that is not an object, all of it.
    pub(super) fn rest_of_chunk(&mut self, chunk: &mut Value) -> Result<(), Blocked> {
        // `choices` is guarded choice by choice only when it is a list.
        let listed = chunk
            .get("choices")
            .is_none_or(|c| c.is_array() || c.is_null());
        let known: Vec<&str> = CHUNK_KNOWN
            .into_iter()
            .filter(|k| listed || *k != "choices")
            .collect();
        self.scan_except(chunk, &known, Position::Root)
    }

    /// Scans `v` at `at` without its members named in `kept`.
    fn scan_except(&mut self, v: &mut Value, kept: &[&str], at: Position) -> Result<(), Blocked> {
        let kept: Vec<(String, Value)> = kept
            .iter()
            .filter_map(|k| v.as_object_mut()?.remove_entry(*k))
            .collect();
        let action =
            govern::scan_value_at(&self.rules, Direction::Response, v, at, &mut self.overall);
        if let Some(map) = v.as_object_mut() {
            map.extend(kept);
        }
        match action {
            Action::Block => Err(Blocked),
            _ => Ok(()),
        }
    }
}

//! The guard on Anthropic's events: content block deltas are held and
//! released by field; every other event is scanned whole.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::{BlockDelta, Blocked, Field, StreamGuard, Verdict};
use crate::domain::policy::{Action, Direction};
use crate::server::gateway::govern;
use crate::server::gateway::sse::{encode, SseEvent};
use crate::server::gateway::translate::stream::field;
use crate::server::gateway::translate::stream::view::Obj;

const BLOCK_DELTA: &str = "content_block_delta";

/// A text, JSON or thinking delta with nothing else in it, read without
/// copying its string. Any other key, a duplicate key or another shape
/// fails the view, and the event takes the general path, which drops
/// what it does not guard: so a frame sent as it came holds only the
/// string the guard released.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaEventView<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    index: i64,
    #[serde(borrow)]
    delta: Obj<DeltaView<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaView<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
}

impl<'a> DeltaView<'a> {
    /// The delta's kind and its one string, when it has exactly that.
    fn only_string(&self) -> Option<(BlockDelta, &str)> {
        let kind = BlockDelta::of(&self.kind)?;
        let (text, others) = match kind {
            BlockDelta::Text => (&self.text, [&self.partial_json, &self.thinking]),
            BlockDelta::Json => (&self.partial_json, [&self.text, &self.thinking]),
            BlockDelta::Thinking => (&self.thinking, [&self.text, &self.partial_json]),
        };
        if others.iter().any(|o| o.is_some()) {
            return None;
        }
        Some((kind, text.as_deref()?))
    }
}

impl StreamGuard {
    pub(super) fn anthropic(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<String>,
    ) -> Result<Verdict, Blocked> {
        match self.plain_delta(ev, out)? {
            Some(verdict) => Ok(verdict),
            None => self.anthropic_general(ev, out),
        }
    }

    /// Any event, read whole.
    pub(super) fn anthropic_general(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<String>,
    ) -> Result<Verdict, Blocked> {
        let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) else {
            return Self::not_json();
        };
        let index = v.get("index").and_then(Value::as_i64).unwrap_or(0);
        // Look-ups by key: `pointer` allocates per segment, per event.
        let kind = field(&v, "delta", "type").and_then(Value::as_str);
        match v.get("type").and_then(Value::as_str) {
            Some(BLOCK_DELTA) => {
                if let Some(kind) = kind.and_then(BlockDelta::of) {
                    let name = kind.names().1;
                    let delta = field(&v, "delta", name).and_then(Value::as_str);
                    let released =
                        self.step(Field::Block(index, kind), Some(delta.unwrap_or("")))?;
                    push_block_delta(out, index, kind, released);
                    return Ok(Verdict::Pushed);
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
            return Ok(Verdict::Unchanged);
        }
        self.scanned(ev, &mut v, out)
    }

    /// A content block delta the view reads: stepped like any other, and
    /// sent as it came when its string goes out whole. `None`: the
    /// general path reads the event.
    fn plain_delta(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<String>,
    ) -> Result<Option<Verdict>, Blocked> {
        // Objects only (`Obj`): a derived view would also take arrays
        // (fields by position), which the general path does not read as
        // events. The event and its delta are read in one pass.
        let Ok(Obj(view)) = serde_json::from_str::<Obj<DeltaEventView>>(&ev.data) else {
            return Ok(None);
        };
        let Some((kind, text)) = view.delta.0.only_string() else {
            return Ok(None);
        };
        if view.kind != BLOCK_DELTA {
            return Ok(None);
        }
        let released = self.step(Field::Block(view.index, kind), Some(text))?;
        // An empty delta is not sent at all, as on the general path.
        if !released.is_empty() && released == text && ev.event.as_deref() == Some(BLOCK_DELTA) {
            return Ok(Some(Verdict::Unchanged));
        }
        push_block_delta(out, view.index, kind, released);
        Ok(Some(Verdict::Pushed))
    }

    /// An event scanned whole: passed as it came, redacted, or blocked.
    fn scanned(
        &mut self,
        ev: &SseEvent,
        v: &mut Value,
        out: &mut Vec<String>,
    ) -> Result<Verdict, Blocked> {
        if v.is_null() {
            return Ok(Verdict::Unchanged);
        }
        match govern::scan_value(&self.rules, Direction::Response, v, &mut self.overall) {
            Action::Block => Err(Blocked),
            Action::Redact => {
                out.push(encode(ev.event.as_deref(), &v.to_string()));
                Ok(Verdict::Pushed)
            }
            Action::Allow | Action::Flag => Ok(Verdict::Unchanged),
        }
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
    // Written out rather than built as `json!` maps: nearly every delta of
    // a guarded stream comes this way. The names are fixed ASCII, and
    // serializing a string cannot fail.
    let text = serde_json::to_string(&text).unwrap_or_default();
    let data = format!(
        r#"{{"type":"{BLOCK_DELTA}","index":{index},"delta":{{"type":"{ty}","{name}":{text}}}}}"#
    );
    out.push(encode(Some(BLOCK_DELTA), &data));
}

//! The views must decide exactly as the general path: every stream here
//! runs both ways and must give the same events and the same decision.

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::domain::pii::EntityType;
use crate::domain::policy::stream::tests::rule;
use crate::domain::policy::Action;

fn rules() -> Arc<[PolicyRule]> {
    Arc::from(vec![
        rule(EntityType::EmailAddress, Action::Redact),
        rule(EntityType::CreditCard, Action::Block),
    ])
}

/// What a client reads: each event's name and data (as JSON when it is).
pub(super) type Read = Vec<(Option<String>, Value)>;

fn read(frames: &[String]) -> Read {
    let mut p = SseParser::default();
    frames
        .iter()
        .flat_map(|f| p.push(f.as_bytes()))
        .map(|ev| {
            let data = serde_json::from_str(&ev.data).unwrap_or(Value::String(ev.data));
            (ev.event, data)
        })
        .collect()
}

/// Frames out (or `None` once blocked) and the decision, by the views as
/// served, or by the general path alone.
fn run(dialect: Dialect, frames: &[String], general: bool) -> (Option<Vec<String>>, Decision) {
    let mut g = StreamGuard::new(dialect, rules());
    let mut out = Vec::new();
    for frame in frames {
        if !general {
            match g.frames(vec![frame.clone()]) {
                Ok(f) => out.extend(f),
                Err(Blocked) => return (None, g.overall),
            }
            continue;
        }
        for ev in SseParser::default().push(frame.as_bytes()) {
            let verdict = match dialect {
                Dialect::OpenAi => g.general(&ev, &mut out),
                Dialect::Anthropic => g.anthropic_general(&ev, &mut out),
            };
            match verdict {
                Ok(Verdict::Unchanged) => out.push(encode(ev.event.as_deref(), &ev.data)),
                Ok(Verdict::Pushed) => {}
                Err(Blocked) => return (None, g.overall),
            }
        }
    }
    (Some(out), g.overall)
}

/// Both ways agree; returns what the client reads.
pub(super) fn same(dialect: Dialect, frames: &[String]) -> Option<Read> {
    let (viewed, a) = run(dialect, frames, false);
    let (general, b) = run(dialect, frames, true);
    assert_eq!(a, b, "decisions differ");
    let (viewed, general) = (viewed.as_deref().map(read), general.as_deref().map(read));
    assert_eq!(viewed, general, "frames differ");
    viewed
}

pub(super) fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({ "id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] });
    encode(None, &c.to_string())
}

pub(super) fn text_of(read: &Read, pointer: &str) -> String {
    read.iter()
        .filter_map(|(_, v)| v.pointer(pointer).and_then(Value::as_str))
        .collect()
}

#[test]
fn openai_chunks_agree_with_the_general_path() {
    let frames = vec![
        chunk(json!({ "role": "assistant", "content": "" }), None),
        chunk(json!({ "content": "Write to jane.d" }), None),
        chunk(
            json!({ "content": "oe@example.com or \"quoted\" é " }),
            None,
        ),
        chunk(
            json!({ "reasoning_content": "ask bob@example.org", "content": "ok " }),
            None,
        ),
        encode(
            None,
            r#"{"choices":[{"index":0,"delta":{"con\u0074ent":"esc@example.com "}}]}"#,
        ),
        encode(
            None,
            r#"{"choices":[{"index":0,"delta":{"content":"a ","content":"dup@example.com "}}]}"#,
        ),
        encode(
            None,
            r#"{"choices":[{"index":1,"delta":{"content":"two x@example.com"}},{"index":0,"delta":{"refusal":"no "}}]}"#,
        ),
        chunk(json!({ "content": 5 }), None),
        chunk(
            json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"to\":\"t@example.com\"}" } }] }),
            None,
        ),
        // Arrays and nulls where an object belongs: a derived struct takes
        // an array as its fields by position; the general path does not.
        encode(
            None,
            r#"{"choices":[[0,null,{"content":"arr@example.com "}]]}"#,
        ),
        encode(
            None,
            r#"{"choices":[{"index":0,"delta":["arr@example.com ",null]}]}"#,
        ),
        encode(None, r#"{"choices":[null]}"#),
        encode(None, r#"["x@example.com",[{"delta":{"content":"y "}}]]"#),
        encode(
            None,
            r#"{"id":null,"choices":[{"index":0,"delta":null,"finish_reason":"stop"}]}"#,
        ),
        chunk(json!({ "content": "last a@example.com" }), Some("stop")),
        encode(None, "[DONE]"),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let text = text_of(&read, "/choices/0/delta/content");
    assert!(!text.contains("@example.com"), "{text}");
    assert!(text.contains("\"quoted\" é"), "{text}");
    let reasoning = text_of(&read, "/choices/0/delta/reasoning_content");
    assert!(!reasoning.contains("bob@"), "{reasoning}");
}

#[test]
fn anthropic_events_agree_with_the_general_path() {
    let delta = |index: i64, d: Value| {
        let data = json!({ "type": "content_block_delta", "index": index, "delta": d });
        encode(Some("content_block_delta"), &data.to_string())
    };
    let frames = vec![
        encode(
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        delta(0, json!({ "type": "text_delta", "text": "mail jane.d" })),
        delta(
            0,
            json!({ "type": "text_delta", "text": "oe@example.com now " }),
        ),
        delta(0, json!({ "type": "text_delta", "text": "plain words " })),
        delta(0, json!({ "type": "text_delta", "text": "" })),
        delta(
            0,
            json!({ "type": "text_delta", "text": "extra ", "thinking": "x@example.com" }),
        ),
        delta(
            0,
            json!({ "type": "text_delta", "text": "more ", "note": "y@example.com" }),
        ),
        encode(
            None,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"unnamed "}}"#,
        ),
        delta(
            1,
            json!({ "type": "thinking_delta", "thinking": "think z@example.com " }),
        ),
        delta(1, json!({ "type": "signature_delta", "signature": "sig" })),
        delta(1, json!(["thinking_delta", "arr@example.com "])),
        encode(
            Some("content_block_delta"),
            r#"["content_block_delta",1,{"type":"thinking_delta","thinking":"a@example.com "}]"#,
        ),
        delta(
            2,
            json!({ "type": "input_json_delta", "partial_json": "{\"a\":\"w@example.com\"}" }),
        ),
        encode(
            Some("content_block_stop"),
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        encode(
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}"#,
        ),
        encode(Some("message_stop"), r#"{"type":"message_stop"}"#),
    ];
    let read = same(Dialect::Anthropic, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("@example.com"), "{all}");
    assert!(
        !all.contains("\"note\""),
        "an unguarded field went out: {all}"
    );
    assert!(text_of(&read, "/delta/text").contains("plain words "));
}

#[test]
fn a_block_rule_blocks_on_both_paths() {
    let frames = vec![
        chunk(json!({ "content": "card 4111 1111 " }), None),
        chunk(json!({ "content": "1111 1111 and more" }), Some("stop")),
    ];
    assert_eq!(same(Dialect::OpenAi, &frames), None);
    let delta = |t: &str| {
        let data = json!({ "type": "content_block_delta", "index": 0,
                           "delta": { "type": "text_delta", "text": t } });
        encode(Some("content_block_delta"), &data.to_string())
    };
    let stop = encode(
        Some("content_block_stop"),
        r#"{"type":"content_block_stop","index":0}"#,
    );
    let frames = vec![delta("card 4111 1111 "), delta("1111 1111 and more"), stop];
    assert_eq!(same(Dialect::Anthropic, &frames), None);
}

/// The views are what serve: a delta that goes out whole is the very
/// frame that came (the general path would have rewritten its JSON).
#[test]
fn an_unchanged_delta_is_sent_as_it_came() {
    let openai = encode(
        None,
        r#"{ "choices" : [ {"index":0, "delta":{"content":"hi there "}} ] }"#,
    );
    let anthropic = encode(
        Some("content_block_delta"),
        r#"{ "type":"content_block_delta", "index":0, "delta":{"type":"text_delta", "text":"hi there "} }"#,
    );
    for (dialect, frame) in [(Dialect::OpenAi, openai), (Dialect::Anthropic, anthropic)] {
        let mut g = StreamGuard::new(dialect, rules());
        assert_eq!(
            g.frames(vec![frame.clone()]).ok(),
            Some(vec![frame]),
            "{dialect}"
        );
    }
}

/// Data that is not JSON to serde (a lone surrogate, a number out of
/// range) may be JSON to a client, with escapes no scan of its text sees
/// through: under response rules it is not sent.
#[test]
fn data_that_is_not_json_is_not_sent() {
    let anthropic = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"mail a\u0040example.com \udc00"}}"#;
    let openai =
        r#"{"choices":[{"index":0,"delta":{"content":"mail a\u0040example.com \udc00"}}]}"#;
    for (dialect, data) in [(Dialect::Anthropic, anthropic), (Dialect::OpenAi, openai)] {
        let mut g = StreamGuard::new(dialect, rules());
        let out = g.frames(vec![encode(None, data)]).ok().expect("allowed");
        assert_eq!(out, Vec::<String>::new(), "{dialect}");
    }
}

/// A frame of one `data:` line, after at most an `event:` line, is read
/// without the parser, exactly as the parser reads it; any other frame is
/// left to the parser.
#[test]
fn one_line_events_read_as_the_parser_reads_them() {
    let frames = [
        (encode(None, r#"{"choices":[]}"#), true),
        (encode(None, "[DONE]"), true),
        (encode(None, ""), true),
        (encode(None, "  two spaces"), true),
        (encode(None, "a\nb"), false),
        (encode(Some("message_stop"), "{}"), true),
        (encode(Some("content_block_delta"), " {\"a\":1} "), true),
        (encode(Some("x"), "a\nb"), false),
        ("event:  spaced \ndata:x\n\n".to_string(), true),
        ("event: e\n\n".to_string(), false),
        (": comment\ndata: x\n\n".to_string(), false),
        ("data: x\n".to_string(), false),
        ("data: x\r\n\r\n".to_string(), false),
        ("id: 1\ndata: x\n\n".to_string(), false),
    ];
    for (frame, read) in frames {
        let event = one_event(&frame);
        assert_eq!(event.is_some(), read, "{frame:?}");
        if let Some(event) = event {
            let parsed = SseParser::default().push(frame.as_bytes());
            assert_eq!(parsed, [event], "{frame:?}");
        }
    }
}

/// Log probabilities spell the answer out token by token, beyond what the
/// held text guards: under response rules they go out as `null`, on
/// both paths, and the text itself is still guarded.
#[test]
fn log_probabilities_do_not_go_out() {
    let logprobs = |tokens: &[&str]| {
        let content: Vec<Value> = tokens
            .iter()
            .map(|t| json!({ "token": t, "logprob": -0.1, "top_logprobs": [{ "token": t, "logprob": -0.1 }] }))
            .collect();
        json!({ "content": content })
    };
    let frame = |text: &str, tokens: &[&str]| {
        let data = json!({ "id": "c", "choices": [{ "index": 0, "delta": { "content": text },
            "logprobs": logprobs(tokens), "finish_reason": null }] });
        encode(None, &data.to_string())
    };
    let frames = vec![
        frame("mail jane.d", &["mail", " jane", ".d"]),
        frame("oe@example.com now ", &["oe", "@example", ".com", " now "]),
        chunk(json!({ "content": "plain " }), None),
        encode(None, "[DONE]"),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("@example"), "{all}");
    assert!(!all.contains("\"token\""), "a token went out: {all}");
    assert!(text_of(&read, "/choices/0/delta/content").contains("plain "));
}

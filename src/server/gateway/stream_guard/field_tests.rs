//! OpenAI delta members beyond content: each is held or scanned, and the
//! view and the general path agree on every stream here.

use serde_json::{json, Value};

use super::tests::{chunk, same, text_of};
use super::Dialect;
use crate::server::gateway::sse::encode;

/// The legacy `function_call` and an audio answer's transcript are held
/// and released like content (a value split across chunks is redacted
/// whole); the sound, which no scan reads, goes out empty. Both paths.
#[test]
fn function_calls_and_transcripts_are_guarded() {
    let frames = vec![
        chunk(
            json!({ "function_call": { "name": "send", "arguments": "{\"to\":\"jane.d" } }),
            None,
        ),
        chunk(
            json!({ "function_call": { "arguments": "oe@example.com\"}" } }),
            None,
        ),
        chunk(
            json!({ "audio": { "id": "a1", "data": "QUJD", "transcript": "Mail bob.s" } }),
            None,
        ),
        chunk(
            json!({ "audio": { "data": "REVG", "transcript": "mith@example.org now" } }),
            Some("stop"),
        ),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("example"), "{all}");
    let arguments = text_of(&read, "/choices/0/delta/function_call/arguments");
    assert_eq!(arguments, "{\"to\":\"[REDACTED:EMAIL_ADDRESS]\"}");
    let transcript = text_of(&read, "/choices/0/delta/audio/transcript");
    assert_eq!(transcript, "Mail [REDACTED:EMAIL_ADDRESS] now");
    assert_eq!(text_of(&read, "/choices/0/delta/audio/data"), "");
}

/// Every other string of a delta is scanned whole, whatever its member or
/// shape: names, annotations, a member the guard does not know, parts
/// that are not a string, a delta or audio that is not an object.
#[test]
fn every_other_delta_string_is_scanned() {
    let frames = vec![
        chunk(
            json!({ "role": "assistant", "content": "ok ", "audio": null }),
            None,
        ),
        chunk(
            json!({ "function_call": { "name": "to_a@example.com", "arguments": "{}" } }),
            None,
        ),
        chunk(
            json!({ "tool_calls": [{ "index": 0, "id": "b@example.com", "function": { "name": "c@example.com" } }] }),
            None,
        ),
        chunk(
            json!({ "annotations": [{ "url_citation": { "title": "d@example.com" } }] }),
            None,
        ),
        chunk(json!({ "reasoning": "think e@example.com" }), None),
        chunk(
            json!({ "content": [{ "type": "text", "text": "f@example.com" }] }),
            None,
        ),
        chunk(
            json!({ "audio": "g@example.com", "content": "more " }),
            None,
        ),
        chunk(
            json!({ "audio": { "data": ["QUJD"], "transcript": "fine " } }),
            None,
        ),
        chunk(json!("h@example.com"), Some("stop")),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("example") && !all.contains("QUJD"), "{all}");
    assert_eq!(text_of(&read, "/choices/0/delta/content"), "ok more ");
    assert_eq!(
        text_of(&read, "/choices/0/delta/reasoning"),
        "think [REDACTED:EMAIL_ADDRESS]"
    );
}

/// vLLM's `reasoning` is held like `reasoning_content` (a value split
/// across tokens is redacted whole); a choice's other members are scanned;
/// in a delta only `role` is vocabulary; a `role` that is not a string, or
/// a choice that is not an object, takes the general path and is scanned.
#[test]
fn reasoning_and_the_rest_of_a_choice_are_guarded() {
    let with = |choice: Value| encode(None, &json!({ "id": "c", "choices": [choice] }).to_string());
    let frames = vec![
        chunk(json!({ "reasoning": "think of jane.d" }), None),
        chunk(json!({ "reasoning": "oe@example.com now " }), None),
        with(json!({ "index": 0, "delta": { "content": "a " }, "text": "b@example.com" })),
        chunk(json!({ "type": "c@example.com", "content": "d " }), None),
        chunk(
            json!({ "role": { "n": "e@example.com" }, "content": "f " }),
            None,
        ),
        with(json!([0, "g@example.com"])),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("example"), "{all}");
    let reasoning = text_of(&read, "/choices/0/delta/reasoning");
    assert_eq!(reasoning, "think of [REDACTED:EMAIL_ADDRESS] now ");
}

/// A chunk's own members beyond the protocol's, a chunk that is not an
/// object, `choices` that is not a list and a `finish_reason` that is not
/// a string are scanned whole; OpenAI's random `obfuscation` is not.
#[test]
fn the_rest_of_a_chunk_is_scanned() {
    let frames = vec![
        encode(
            None,
            &json!({ "id": "c", "object": "chat.completion.chunk", "obfuscation": "4111 1111 1111 1111",
                "note": "h@example.com", "choices": [{ "index": 0, "delta": { "content": "a " } }] })
            .to_string(),
        ),
        encode(None, r#"["i@example.com"]"#),
        encode(None, r#"{"choices":"j@example.com"}"#),
        encode(
            None,
            r#"{"choices":[{"index":0,"finish_reason":{"why":"k@example.com"},"delta":{"content":"c "}}]}"#,
        ),
        chunk(json!({ "content": "b " }), None),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("example"), "{all}");
    assert_eq!(text_of(&read, "/choices/0/delta/content"), "a c b ");
}

/// A choice's own `text`, which some providers repeat each token in beside
/// the delta, is held like content: a value split across its tokens is
/// redacted whole, and what is held goes out before the last chunk.
#[test]
fn a_choice_text_is_held_like_content() {
    let with = |content: &str, finish: Option<&str>| {
        let choice = json!({ "index": 0, "delta": { "content": content }, "text": content,
                             "finish_reason": finish });
        encode(None, &json!({ "id": "c", "choices": [choice] }).to_string())
    };
    let frames = vec![
        with("Write to jane.d", None),
        with("oe@example.com", None),
        with(" today", None),
        with(".", Some("stop")),
    ];
    let read = same(Dialect::OpenAi, &frames).expect("not blocked");
    let all = serde_json::to_string(&read).expect("json");
    assert!(!all.contains("example"), "{all}");
    let said = "Write to [REDACTED:EMAIL_ADDRESS] today.";
    assert_eq!(text_of(&read, "/choices/0/text"), said);
    assert_eq!(text_of(&read, "/choices/0/delta/content"), said);
    let last = read
        .last()
        .and_then(|(_, v)| v.pointer("/choices/0/finish_reason"));
    assert_eq!(last, Some(&json!("stop")), "{all}");
}

/// A last chunk without a delta (or with `"delta": null`) still ends the
/// choice: what it holds goes out before it, not after its finish reason.
#[test]
fn a_finish_without_a_delta_flushes_first() {
    for last in [
        json!({ "index": 0, "finish_reason": "stop" }),
        json!({ "index": 0, "delta": null, "finish_reason": "stop" }),
    ] {
        let frames = vec![
            chunk(json!({ "content": "Write to jane.d" }), None),
            encode(None, &json!({ "id": "c1", "choices": [last] }).to_string()),
        ];
        let read = same(Dialect::OpenAi, &frames).expect("not blocked");
        let all = serde_json::to_string(&read).expect("json");
        assert_eq!(
            text_of(&read, "/choices/0/delta/content"),
            "Write to jane.d"
        );
        let finish = read
            .iter()
            .position(|(_, v)| v.pointer("/choices/0/finish_reason") == Some(&json!("stop")));
        let held = read.iter().rposition(|(_, v)| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        });
        assert!(held < finish && finish == Some(read.len() - 1), "{all}");
    }
}

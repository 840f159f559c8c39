use serde_json::json;

use super::*;
use crate::server::gateway::sse::SseParser;

fn events(frames: &[String]) -> Vec<Value> {
    let mut p = SseParser::default();
    p.push(frames.concat().as_bytes())
        .into_iter()
        .filter(|e| e.data != "[DONE]")
        .filter_map(|e| serde_json::from_str(&e.data).ok())
        .collect()
}

fn data(v: Value) -> SseEvent {
    SseEvent {
        event: None,
        data: v.to_string(),
    }
}

#[test]
fn openai_stream_becomes_anthropic_events() {
    let mut t = OpenAiToAnthropic::new("alias");
    let mut out = Vec::new();
    out.extend(t.on_event(&data(
        json!({"id": "c", "choices": [{"delta": {"role": "assistant", "content": ""}}]}),
    )));
    out.extend(t.on_event(&data(
        json!({"id": "c", "choices": [{"delta": {"content": "Hel"}}]}),
    )));
    out.extend(t.on_event(&data(
        json!({"id": "c", "choices": [{"delta": {"content": "lo"}}]}),
    )));
    out.extend(t.on_event(&data(
        json!({"id": "c", "choices": [{"delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{\"a\""}}]}}]}),
    )));
    out.extend(t.on_event(&data(
        json!({"id": "c", "choices": [{"delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
    )));
    out.extend(t.on_event(&data(
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}),
    )));
    out.extend(t.on_event(&SseEvent {
        event: None,
        data: "[DONE]".into(),
    }));
    out.extend(t.finish());
    let types: Vec<String> = events(&out)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        types,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let evs = events(&out);
    assert_eq!(evs[5]["content_block"]["name"], "f");
    assert_eq!(evs[9]["delta"]["stop_reason"], "tool_use");
    assert_eq!(evs[9]["usage"]["output_tokens"], 4);
    assert!(t.completed());
    assert_eq!(t.usage().input, 9);
}

#[test]
fn anthropic_stream_becomes_openai_chunks() {
    let mut t = AnthropicToOpenAi::new("alias", true);
    let seq = [
        json!({"type": "message_start", "message": {"id": "m1", "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu", "name": "f", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
        json!({"type": "message_stop"}),
    ];
    let mut out = Vec::new();
    for e in seq {
        out.extend(t.on_event(&data(e)));
    }
    out.extend(t.finish());
    assert!(out.last().is_some_and(|f| f.contains("[DONE]")));
    let chunks = events(&out);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "f"
    );
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[5]["usage"]["prompt_tokens"], 12);
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 5);
    assert!(t.completed());
}

#[test]
fn openai_passthrough_hides_usage_unless_asked() {
    let usage_chunk =
        data(json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}));
    let mut hidden = OpenAiPassthrough::new(false);
    assert!(hidden.on_event(&usage_chunk).is_empty());
    assert_eq!(hidden.usage().output, 2);
    let mut shown = OpenAiPassthrough::new(true);
    assert_eq!(shown.on_event(&usage_chunk).len(), 1);
}

fn raw(text: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: text.into(),
    }
}

/// The passthroughs read most chunks through a narrow view; usage spelled
/// in any way the full parse accepts is still counted, and every chunk,
/// read or not, leaves as it came.
#[test]
fn passthrough_views_miss_no_usage() {
    let counted = [
        (
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
            2,
        ),
        // An escaped key, and a key given twice (the full parse takes the last).
        (r#"{"\u0075sage":{"completion_tokens":4}}"#, 4),
        (r#"{"us\u0061ge":{"completion_tokens":5}}"#, 5),
        (
            r#"{"choices":[{"delta":{"content":"no word, no escape"}}]}"#,
            0,
        ),
        (
            r#"{"usage":{"completion_tokens":1},"usage":{"completion_tokens":6}}"#,
            6,
        ),
        (r#"{"choices":[{"delta":{"content":"usage"}}]}"#, 0),
        (r#"{"usage":null}"#, 0),
        (r#"{"usage":null,"usage":{"completion_tokens":3}}"#, 3),
        (r#"[{"completion_tokens":9}]"#, 0),
        ("not json", 0),
    ];
    for (text, output) in counted {
        let mut t = OpenAiPassthrough::new(true);
        let frames = t.on_event(&raw(text));
        assert_eq!(t.usage().output, output, "{text}");
        assert_eq!(frames, [encode(None, text)], "{text}");
    }
    let anthropic = [
        r#"{"type":"message_start","message":{"usage":{"input_tokens":7,"output_tokens":1}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
        r#"{"type":"message_d\u0065lta","usage":{"output_tokens":5}}"#,
        r#"{"type":null,"x":1}"#,
        r#"{"type":"ping","type":"message_stop"}"#,
    ];
    let mut t = AnthropicPassthrough::default();
    for text in anthropic {
        assert_eq!(t.on_event(&raw(text)), [encode(None, text)]);
    }
    assert_eq!((t.usage().input, t.usage().output), (7, 5));
    assert!(t.completed());
}

/// A provider's counts at the ends of the range saturate, never wrap.
#[test]
fn extreme_counts_saturate() {
    let t = usage::from_openai(&json!({"prompt_tokens": i64::MIN,
        "prompt_tokens_details": {"cached_tokens": i64::MAX}, "completion_tokens": i64::MAX}));
    assert_eq!((t.input, t.cache_read, t.output), (0, i64::MAX, i64::MAX));
    let back = usage::to_openai(&t);
    assert_eq!(back["prompt_tokens"], i64::MAX);
    assert_eq!(back["total_tokens"], i64::MAX);
    // Negative counts are none: a negative cached count would have raised
    // the input, a negative output lowered the bill.
    let t = usage::from_openai(&json!({"prompt_tokens": 10, "completion_tokens": -5,
        "prompt_tokens_details": {"cached_tokens": -7}}));
    assert_eq!((t.input, t.cache_read, t.output), (10, 0, 0));
    let t = usage::from_anthropic(&json!({"input_tokens": -3, "output_tokens": -1}));
    assert_eq!((t.input, t.output), (0, 0));
}

/// The view reads every chunk as the `Value` path does, odd ones
/// included (they fall back to it), one by one and as one stream.
#[test]
fn the_view_reads_chunks_as_the_value_path_does() {
    let chunks = [
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel\"lo\u00e9 \ud83d\ude00"}}]}"#,
        r#"{"id":"c","choices":[{"delta":{"content":"a","content":"b"}}]}"#,
        r#"{"id":"c","choices":[[{"content":"x"},"stop"]]}"#,
        r#"{"id":"c","choices":[{"delta":{"content":5}}]}"#,
        r#"{"id":"c","choices":[{"delta":null,"finish_reason":"length"}]}"#,
        r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        r#"{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]}}]}"#,
        r#"[1,2]"#,
        r#"{"id":null,"choices":null}"#,
        r#"{"id":7,"choices":[{"delta":{"content":"z"}}]}"#,
        r#"not json"#,
        r#"{"choices":[{"delta":{"content":"q"},"finish_reason":"stop"}],"usage":"none"}"#,
        r#"{"id":"c","usage":{"prompt_tokens":1},"usage":{"prompt_tokens":9}}"#,
        r#"  {"id":"w","choices":[{"delta":{"content":"sp"}}]}"#,
        r#"{"id":"c","choices":[null]}"#,
        r#"{"id":"c","choices":[{"delta":["x"]}]}"#,
        r#"{"id":"c","choices":[{"delta":{"content":"t","tool_calls":null},"finish_reason":7}]}"#,
    ];
    let ev = |data: &str| SseEvent {
        event: None,
        data: data.to_string(),
    };
    let run = |events: &[&str], viewed: bool| {
        let mut t = OpenAiToAnthropic::new("m");
        let mut out = Vec::new();
        for data in events {
            if viewed {
                out.extend(t.on_event(&ev(data)));
            } else {
                t.on_value(&ev(data), &mut out);
            }
        }
        out.extend(t.finish());
        (out, format!("{:?}", t.observed().usage))
    };
    for chunk in chunks {
        assert_eq!(run(&[chunk], true), run(&[chunk], false), "{chunk}");
    }
    assert_eq!(run(&chunks, true), run(&chunks, false));
    let common =
        r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
    assert!(
        view::read(common).is_some(),
        "the common chunk takes the view"
    );
    assert!(
        view::read(chunks[2]).is_none(),
        "a member named twice is read whole"
    );
    assert!(
        view::read(chunks[3]).is_none(),
        "an array choice is read whole"
    );
}

/// What the view skips is checked for JSON's shape only: a chunk with a
/// member a `Value` refuses (half a surrogate pair, a number out of
/// range) is translated, where the `Value` path dropped it whole. The
/// text goes out as valid JSON.
#[test]
fn the_view_skips_members_a_value_refuses() {
    for odd in [r#""\ud800""#, "1e400"] {
        let data = format!(r#"{{"id":"c","x":{odd},"choices":[{{"delta":{{"content":"hi"}}}}]}}"#);
        let ev = SseEvent {
            event: None,
            data: data.clone(),
        };
        let mut whole = OpenAiToAnthropic::new("m");
        let mut dropped = Vec::new();
        whole.on_value(&ev, &mut dropped);
        assert!(dropped.is_empty(), "the Value path drops {data}");
        let frames = OpenAiToAnthropic::new("m").on_event(&ev);
        let texts: Vec<Value> = events(&frames)
            .into_iter()
            .filter_map(|e| e.get("delta").and_then(|d| d.get("text")).cloned())
            .collect();
        assert_eq!(texts, [json!("hi")], "{data}");
    }
}

/// `Obj` takes a JSON object only, where a derived struct would also take
/// an array as its fields by position (and `null` for an all-default one).
#[test]
fn an_obj_is_an_object_only() {
    use super::view::Obj;
    #[derive(serde::Deserialize, Debug)]
    struct Two {
        #[serde(default)]
        a: Option<i64>,
        #[serde(default)]
        b: Option<String>,
    }
    let read = |data: &str| serde_json::from_str::<Obj<Two>>(data).ok().map(|Obj(t)| t);
    assert!(
        serde_json::from_str::<Two>(r#"[1,"x"]"#).is_ok(),
        "derived: an array passes"
    );
    assert!(read(r#"[1,"x"]"#).is_none());
    assert!(read("null").is_none());
    assert!(read("7").is_none());
    let t = read(r#"{"b":"x","c":[1,{"d":2}]}"#).expect("an object");
    assert_eq!((t.a, t.b.as_deref()), (None, Some("x")));
    assert!(read(r#"{"a":1,"a":2}"#).is_none(), "a member named twice");
}

//! Function calls and audio answers under response rules, on both
//! backends. Before, a streamed legacy `function_call.arguments` and an
//! audio answer's `transcript` passed unredacted (the guard read neither),
//! and the sound itself (`audio.data`, base64 speech of the transcript)
//! went out whole and streamed. Now both strings are held and redacted
//! like content, the sound goes out empty, and every other string of a
//! streamed delta (annotations here) is scanned whole.

use std::net::SocketAddr;

use atrium::domain::catalog::ProviderKind;
use atrium::domain::policy::Direction;
use serde_json::{json, Value};

use crate::abuse_exposure::serve;
use crate::abuse_stream_fields::joined;
use crate::common::TestApp;
use crate::governance::{redact_emails, setup};
use crate::provider_faults::model_at;

on_both_backends!(function_calls_and_audio_are_governed);

const SOUND: &str = "UklGRiQAAABXQVZF";

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "au",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] });
    format!("data: {c}\n\n")
}

/// An OpenAI provider answering with a legacy function call and audio,
/// whole or as a stream that splits each address across two chunks.
async fn provider() -> SocketAddr {
    let router = axum::Router::new().fallback(|body: axum::Json<Value>| async move {
        if body.get("stream") != Some(&json!(true)) {
            let message = json!({ "role": "assistant", "content": null,
                "function_call": { "name": "send", "arguments": "{\"to\":\"jane.doe@example.com\"}" },
                "audio": { "id": "a1", "data": SOUND, "expires_at": 9,
                           "transcript": "Mail bob.smith@example.org today" } });
            let answer = json!({ "id": "c1", "object": "chat.completion", "created": 1, "model": "au",
                "choices": [{ "index": 0, "finish_reason": "function_call", "message": message }],
                "usage": { "prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11 } });
            return ([("content-type", "application/json")], answer.to_string());
        }
        let sse = [
            chunk(json!({ "role": "assistant", "function_call": { "name": "send", "arguments": "{\"to\":\"jane.d" } }), None),
            chunk(json!({ "function_call": { "arguments": "oe@example.com\"}" } }), None),
            chunk(json!({ "audio": { "id": "a1", "data": SOUND, "transcript": "Mail bob.s" } }), None),
            chunk(json!({ "audio": { "data": SOUND, "transcript": "mith@example.org today" } }), Some("stop")),
            // A member the guard has no hold-back buffer for is scanned whole.
            chunk(json!({ "annotations": [{ "type": "url_citation",
                "url_citation": { "title": "Contact carol@example.net" } }] }), None),
            "data: [DONE]\n\n".to_string(),
        ];
        ([("content-type", "text/event-stream")], sse.concat())
    });
    serve(router).await
}

async fn ask(app: &TestApp, key: &str, stream: bool) -> String {
    let body = json!({ "model": "au", "stream": stream, "modalities": ["text", "audio"],
        "messages": [{ "role": "user", "content": "hello" }] });
    app.chat_ok(key, &body).await
}

async fn function_calls_and_audio_are_governed(app: TestApp) -> TestApp {
    let s = setup(&app, "Audio").await;
    let base = format!("http://{}/v1", provider().await);
    model_at(&app, "au", ProviderKind::Openai, base, 5_000).await;
    // Without response rules both pass as the provider sent them.
    let plain = ask(&app, &s.key, true).await;
    assert!(plain.contains(SOUND) && plain.contains("jane.d"), "{plain}");
    redact_emails(&app.svc, &s.tenant_id, Direction::Response).await;

    let whole = ask(&app, &s.key, false).await;
    assert!(
        !whole.contains("example") && !whole.contains(SOUND),
        "{whole}"
    );
    let v: Value = serde_json::from_str(&whole).expect("json");
    let message = &v["choices"][0]["message"];
    assert_eq!(message["audio"]["data"], "", "{whole}");
    assert_eq!(
        message["audio"]["transcript"],
        "Mail [REDACTED:EMAIL_ADDRESS] today"
    );
    let arguments = message["function_call"]["arguments"].as_str().unwrap_or("");
    assert_eq!(arguments, "{\"to\":\"[REDACTED:EMAIL_ADDRESS]\"}");

    let streamed = ask(&app, &s.key, true).await;
    assert!(
        !streamed.contains("example") && !streamed.contains(SOUND),
        "{streamed}"
    );
    let arguments = joined(&streamed, "/choices/0/delta/function_call/arguments");
    assert_eq!(arguments, "{\"to\":\"[REDACTED:EMAIL_ADDRESS]\"}");
    let transcript = joined(&streamed, "/choices/0/delta/audio/transcript");
    assert_eq!(transcript, "Mail [REDACTED:EMAIL_ADDRESS] today");
    app
}

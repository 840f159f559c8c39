//! Issue 21, item 15, on both backends: response rules reach every
//! streamed string, and protocol vocabulary is skipped only where the
//! protocol puts it. Before, streamed tool-call arguments, thinking and
//! reasoning deltas passed unredacted, and a `model` key anywhere (in
//! metadata) was never scanned.

use atrium::domain::pii::EntityType;
use atrium::domain::policy::{Action, Direction, Target};
use atrium::server::devtools::mock_upstream::MockOptions;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::governance::{rule, setup_with, EMAIL};

on_both_backends!(
    every_streamed_string_is_redacted,
    vocabulary_is_skipped_only_at_protocol_positions,
);

/// Streams `body` in its dialect; the status and the whole stream.
async fn stream(app: &TestApp, key: &str, anthropic: bool, mut body: Value) -> (u16, String) {
    body["stream"] = json!(true);
    body["messages"] = json!([{ "role": "user", "content": format!("mail {EMAIL} today") }]);
    let client = crate::common::plain_client();
    let req = if anthropic {
        body["model"] = json!("claude-mock");
        client
            .post(app.url("/v1/messages"))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
    } else {
        body["model"] = json!("gpt-mock");
        client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
    };
    let res = req.json(&body).send().await.expect("request");
    let status = res.status().as_u16();
    let mut text = String::new();
    let mut chunks = res.bytes_stream();
    while let Some(c) = chunks.next().await {
        text.push_str(&String::from_utf8_lossy(&c.expect("chunk")));
    }
    (status, text)
}

/// The strings each event carries at `pointer`, joined.
pub(crate) fn joined(stream: &str, pointer: &str) -> String {
    stream
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

fn assert_redacted(what: &str, stream: &str, joined: &str) {
    assert!(
        !stream.contains("jane") && !stream.contains("example.com"),
        "{what}: {stream}"
    );
    assert!(
        joined.contains("[REDACTED:EMAIL_ADDRESS]"),
        "{what}: {joined}"
    );
}

async fn every_streamed_string_is_redacted(app: TestApp) -> TestApp {
    let pieces = MockOptions {
        stream_piece_chars: 3,
        ..Default::default()
    };
    let s = setup_with(&app, "Streamed fields", pieces).await;
    let email = Target::Entity(EntityType::EmailAddress);
    rule(
        &app.svc,
        Some(&s.tenant_id),
        email,
        Action::Redact,
        Direction::Response,
    )
    .await;

    let tool = json!({ "max_tokens": 64, "tools": [{ "name": "lookup", "input_schema": { "type": "object" } }] });
    let (status, body) = stream(&app, &s.key, true, tool).await;
    assert_eq!(status, 200, "{body}");
    let args = joined(&body, "/delta/partial_json");
    assert_redacted("input_json_delta", &body, &args);
    let input: Value = serde_json::from_str(&args).expect("the arguments are still JSON");
    assert_eq!(input["query"], "mail [REDACTED:EMAIL_ADDRESS] today");

    let tool = json!({ "tools": [{ "type": "function", "function": { "name": "lookup" } }] });
    let (status, body) = stream(&app, &s.key, false, tool).await;
    assert_eq!(status, 200, "{body}");
    let args = joined(&body, "/choices/0/delta/tool_calls/0/function/arguments");
    assert_redacted("tool_calls arguments", &body, &args);
    assert!(serde_json::from_str::<Value>(&args).is_ok(), "{args}");

    let thinking =
        json!({ "max_tokens": 2048, "thinking": { "type": "enabled", "budget_tokens": 1024 } });
    let (status, body) = stream(&app, &s.key, true, thinking).await;
    assert_eq!(status, 200, "{body}");
    assert_redacted("thinking_delta", &body, &joined(&body, "/delta/thinking"));
    assert_eq!(
        joined(&body, "/delta/signature"),
        "c2lnbmF0dXJl",
        "signatures pass as they are"
    );
    assert_redacted("text after thinking", &body, &joined(&body, "/delta/text"));

    let reasoning = json!({ "reasoning_effort": "low" });
    let (status, body) = stream(&app, &s.key, false, reasoning).await;
    assert_eq!(status, 200, "{body}");
    let thought = joined(&body, "/choices/0/delta/reasoning_content");
    assert_redacted("reasoning_content", &body, &thought);
    assert!(body.contains("[DONE]"), "{body}");
    app
}

async fn vocabulary_is_skipped_only_at_protocol_positions(app: TestApp) -> TestApp {
    let s = setup_with(&app, "Vocabulary", MockOptions::default()).await;
    let email = Target::Entity(EntityType::EmailAddress);
    rule(
        &app.svc,
        Some(&s.tenant_id),
        email,
        Action::Block,
        Direction::Prompt,
    )
    .await;
    let ask = |extra: Value| {
        let mut body =
            json!({ "model": "gpt-mock", "messages": [{ "role": "user", "content": "hello" }] });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    let send = |body: Value| {
        let key = s.key.clone();
        let url = app.url("/v1/chat/completions");
        async move {
            let r = crate::common::plain_client()
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("request");
            r.status().as_u16()
        }
    };
    assert_eq!(send(ask(json!({}))).await, 200);
    for hidden in [
        json!({ "metadata": { "model": EMAIL } }),
        json!({ "metadata": { "role": EMAIL } }),
        json!({ "metadata": { "nested": { "type": EMAIL } } }),
    ] {
        assert_eq!(send(ask(hidden.clone())).await, 403, "{hidden}");
    }
    app
}

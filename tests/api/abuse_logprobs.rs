//! Log probabilities under response rules, on both backends: each carries
//! its token, so a provider asked for them (`logprobs: true`) spells the
//! answer out again in pieces no single scan recognises (`jane`, `.doe`,
//! `@example`, `.com`). Before, they went out unredacted, whole and
//! streamed; under response rules they now go out as `null`.

use std::net::SocketAddr;

use atrium::domain::catalog::ProviderKind;
use atrium::domain::policy::Direction;
use serde_json::{json, Value};

use crate::abuse_exposure::serve;
use crate::common::TestApp;
use crate::governance::{redact_emails, setup};
use crate::provider_faults::model_at;

on_both_backends!(log_probabilities_do_not_go_out_under_response_rules);

const TOKENS: [&str; 6] = ["Mail ", "jane", ".doe", "@example", ".com", " today"];

fn logprobs() -> Value {
    let content: Vec<Value> = TOKENS
        .iter()
        .map(|t| {
            json!({ "token": t, "logprob": -0.5, "bytes": t.as_bytes(),
                         "top_logprobs": [{ "token": t, "logprob": -0.5 }] })
        })
        .collect();
    json!({ "content": content })
}

/// An OpenAI provider that answers with log probabilities, whole or as a
/// stream of one chunk per token.
async fn provider() -> SocketAddr {
    let router = axum::Router::new().fallback(|body: axum::Json<Value>| async move {
        let usage = json!({ "prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11 });
        if body.get("stream") != Some(&json!(true)) {
            let answer = json!({ "id": "c1", "object": "chat.completion", "created": 1, "model": "lp",
                "choices": [{ "index": 0, "finish_reason": "stop", "logprobs": logprobs(),
                              "message": { "role": "assistant", "content": TOKENS.concat() } }],
                "usage": usage });
            return ([("content-type", "application/json")], answer.to_string());
        }
        let mut sse = String::new();
        for t in TOKENS {
            let lp = json!({ "content": [{ "token": t, "logprob": -0.5, "top_logprobs": [] }] });
            let chunk = json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "lp",
                "choices": [{ "index": 0, "delta": { "content": t }, "logprobs": lp, "finish_reason": null }] });
            sse.push_str(&format!("data: {chunk}\n\n"));
        }
        let last = json!({ "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "lp",
            "choices": [{ "index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop" }], "usage": usage });
        sse.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
        ([("content-type", "text/event-stream")], sse)
    });
    serve(router).await
}

async fn ask(app: &TestApp, key: &str, stream: bool) -> String {
    let body = json!({ "model": "lp", "stream": stream, "logprobs": true, "top_logprobs": 1,
        "messages": [{ "role": "user", "content": "hello" }] });
    app.chat_ok(key, &body).await
}

async fn log_probabilities_do_not_go_out_under_response_rules(app: TestApp) -> TestApp {
    let s = setup(&app, "Logprobs").await;
    let base = format!("http://{}/v1", provider().await);
    model_at(&app, "lp", ProviderKind::Openai, base, 5_000).await;
    // Without response rules they pass as the provider sent them.
    let plain = ask(&app, &s.key, false).await;
    assert!(plain.contains("\"@example\""), "{plain}");
    redact_emails(&app.svc, &s.tenant_id, Direction::Response).await;
    let whole = ask(&app, &s.key, false).await;
    let v: Value = serde_json::from_str(&whole).expect("json");
    assert_eq!(v["choices"][0]["logprobs"], Value::Null, "{whole}");
    assert!(
        !whole.contains("jane") && !whole.contains("example"),
        "{whole}"
    );
    let text = v["choices"][0]["message"]["content"].as_str().unwrap_or("");
    assert!(text.contains("[REDACTED:EMAIL_ADDRESS]"), "{whole}");
    let streamed = ask(&app, &s.key, true).await;
    assert!(
        !streamed.contains("jane") && !streamed.contains("example"),
        "{streamed}"
    );
    assert!(
        !streamed.contains("\"token\""),
        "a token went out: {streamed}"
    );
    assert!(streamed.contains("[REDACTED:EMAIL_ADDRESS]"), "{streamed}");
    app
}

//! Issue 21, item 6, on both backends: a client that hangs up before the
//! end of an answer still pays for it. Before, a stream left before its
//! final usage event was recorded as 499 with no tokens and $0, and its
//! budget hold was given back; OpenAI-kind providers (vLLM pools too)
//! report usage only in the last chunk.

use std::time::Duration;

use atrium::domain::pricing::{cost, TokenCounts};
use atrium::domain::tenant::TenantId;
use atrium::server::devtools::mock_upstream::MockOptions;
use futures::StreamExt;
use serde_json::json;

use crate::budgets::{hard_budget, spent};
use crate::common::TestApp;
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(
    a_stream_left_early_pays_the_usage_its_provider_reports,
    a_stream_left_early_without_usage_pays_what_was_delivered,
    a_whole_answer_left_early_is_still_awaited_and_billed,
);

/// Forty words, echoed back one a frame, 40 ms apart: about 1.6 s.
fn slow_echo(omit_usage: bool) -> MockOptions {
    MockOptions {
        stream_chunk_delay_ms: 40,
        omit_usage,
        ..Default::default()
    }
}

fn prompt() -> String {
    vec!["word"; 40].join(" ")
}

/// Starts a stream, reads its first frames, and hangs up.
async fn leave_early(app: &TestApp, key: &str, path: &str, model: &str) {
    let body = json!({ "model": model, "max_tokens": 200, "stream": true,
        "messages": [{ "role": "user", "content": prompt() }] });
    let r = crate::common::plain_client()
        .post(app.url(path))
        .bearer_auth(key)
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let mut chunks = r.bytes_stream();
    let mut seen = 0;
    while seen < 3 {
        match chunks.next().await {
            Some(Ok(_)) => seen += 1,
            other => panic!("the stream ended early: {other:?}"),
        }
    }
    drop(chunks);
}

/// The tenant's one usage event once it is recorded (the relay settles
/// after reading the provider's answer to its end).
async fn the_event(app: &TestApp, tenant: &TenantId) -> (i64, i64, i64, i64) {
    for _ in 0..100 {
        app.running.gateway.ledger.flush().await;
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT status, input_tokens, output_tokens, cost_micros FROM usage_events \
             WHERE tenant_id = $1",
        )
        .bind(tenant.to_string())
        .fetch_optional(&app.svc.db.pool)
        .await
        .expect("event");
        if let Some(row) = row {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no usage event was recorded");
}

/// The usage the provider reports for the same question answered whole.
async fn whole_usage(app: &TestApp, key: &str, model: &str) -> (i64, i64) {
    let body = json!({ "model": model, "max_tokens": 200,
        "messages": [{ "role": "user", "content": prompt() }] });
    let r: serde_json::Value = crate::common::plain_client()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let read = |p: &str| {
        r.pointer(p)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(-1)
    };
    (
        read("/usage/prompt_tokens"),
        read("/usage/completion_tokens"),
    )
}

fn at_mock_price(input: i64, output: i64) -> i64 {
    let price = crate::budgets::price();
    let tokens = TokenCounts {
        input,
        output,
        ..Default::default()
    };
    cost(&price, &tokens)
}

async fn a_stream_left_early_pays_the_usage_its_provider_reports(app: TestApp) -> TestApp {
    setup(&app, slow_echo(false)).await;
    for (path, model) in [
        ("/v1/chat/completions", "gpt-mock"),
        ("/v1/messages", "claude-mock"),
        ("/v1/messages", "gpt-mock"),
    ] {
        let name = format!("Leaver {}", model.len() + path.len());
        let (tenant, key) = tenant_with_key(&app, &name, 1_000, "eu-west").await;
        hard_budget(&app, &tenant, 1_000_000).await;
        leave_early(&app, &key, path, model).await;
        let (status, input, output, micros) = the_event(&app, &tenant).await;
        assert_eq!(status, 499, "{path} {model}");
        assert_eq!(
            spent(&app, &tenant).await,
            micros,
            "the budget saw the same cost"
        );
        // What the provider reports for the whole answer, at its end.
        let (whole_in, whole_out) = whole_usage(&app, &key, model).await;
        assert_eq!((input, output), (whole_in, whole_out), "{path} {model}");
        assert_eq!(micros, at_mock_price(input, output), "{path} {model}");
    }
    app
}

async fn a_stream_left_early_without_usage_pays_what_was_delivered(app: TestApp) -> TestApp {
    setup(&app, slow_echo(true)).await;
    let (tenant, key) = tenant_with_key(&app, "Silent", 1_000, "eu-west").await;
    leave_early(&app, &key, "/v1/chat/completions", "gpt-mock").await;
    let (status, input, output, micros) = the_event(&app, &tenant).await;
    assert_eq!(status, 499);
    // The input estimate is a quarter of the body's bytes.
    assert!(input >= 50, "input billed at its estimate: {input}");
    assert!(output >= 3, "at least the frames that left: {output}");
    assert!(
        micros > 0 && micros == at_mock_price(input, output),
        "{micros}"
    );
    app
}

async fn a_whole_answer_left_early_is_still_awaited_and_billed(app: TestApp) -> TestApp {
    let slow = MockOptions {
        latency_ms: 800,
        ..Default::default()
    };
    setup(&app, slow).await;
    let (tenant, key) = tenant_with_key(&app, "Impatient", 1_000, "eu-west").await;
    let body = json!({ "model": "gpt-mock", "max_tokens": 200,
        "messages": [{ "role": "user", "content": prompt() }] });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let r = impatient
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await;
    assert!(
        r.is_err(),
        "the client gave up: {:?}",
        r.map(|r| r.status())
    );
    let (status, input, output, micros) = the_event(&app, &tenant).await;
    assert_eq!(status, 200);
    assert_eq!((input, output), whole_usage(&app, &key, "gpt-mock").await);
    assert_eq!(micros, at_mock_price(input, output));
    app
}

//! A hard budget bounds media named by reference (issue 12), on both
//! backends: an image by URL is held at its allowance, not at the few
//! bytes of its URL, so a request that could cross the budget through it
//! is refused before the provider sees it, while the same words alone pass.

use atrium::server::devtools::mock_upstream::MockOptions;
use serde_json::{json, Value};

use crate::budgets::hard_budget;
use crate::common::TestApp;
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(an_image_by_url_is_held_at_its_allowance);

async fn send(app: &TestApp, key: &str, content: Value) -> (u16, Value) {
    let body = json!({ "model": "gpt-mock", "max_tokens": 16,
        "messages": [{ "role": "user", "content": content }] });
    let r = app.chat(key, &body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn an_image_by_url_is_held_at_its_allowance(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Pictures", 1_000, "eu-west").await;
    // One cent: the words cost a few hundred micro-dollars at most; an
    // image's allowance (6,400 tokens at $3 per million) is about two cents.
    hard_budget(&app, &tenant, 10_000).await;
    let text = json!([{ "type": "text", "text": "what is in the picture?" }]);
    let (status, body) = send(&app, &key, text.clone()).await;
    assert_eq!(status, 200, "{body}");
    let mut with_image = text;
    with_image.as_array_mut().expect("parts").push(
        json!({ "type": "image_url", "image_url": { "url": "https://example.com/cat.png" } }),
    );
    let (status, body) = send(&app, &key, with_image).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    app
}

//! The completion API over HTTP against `atrium mock-upstream`, on SQLite
//! and PostgreSQL: both dialects, both provider kinds, streaming, errors,
//! admission, fallback and the usage ledger.

use crate::common;
use atrium::domain::tenant::TenantId;

use std::time::Duration;

use atrium::domain::catalog::ProviderKind;
use atrium::domain::pricing::{parse_usd, Price};
use atrium::domain::tenant::{IsolationLevel, TenantSettings};
use atrium::server::devtools::mock_upstream::{self, MockOptions};
use atrium::server::services::catalog::{self, Credential, NewModel, NewProvider};
use atrium::server::services::{api_keys, tenants, Actor};
use common::TestApp;
use futures::StreamExt;
use serde_json::{json, Value};

on_both_backends!(
    anthropic_client_both_providers,
    openai_client_both_providers,
    streaming_in_both_dialects_and_translations,
    tool_calls_survive_translation,
    errors_in_the_callers_dialect,
    rate_limits_hold_under_concurrency,
    fallback_retry_and_upstream_faults,
    aliases_models_list_and_metrics,
    abandoned_streams_are_accounted;
    redis: redis_limits_hold_across_replicas,
);

pub(crate) struct Setup {
    pub anthropic_key: String,
    pub tenant_id: TenantId,
    pub mock: std::net::SocketAddr,
}

async fn mock(opts: MockOptions) -> std::net::SocketAddr {
    let opts = MockOptions {
        addr: "127.0.0.1:0".into(),
        ..opts
    };
    mock_upstream::spawn(opts).await.expect("mock upstream").0
}

async fn provider(
    app: &TestApp,
    name: &str,
    kind: ProviderKind,
    base: String,
    region: &str,
    timeout_ms: i64,
) {
    let new = NewProvider {
        name: name.into(),
        kind,
        base_url: base,
        region: region.into(),
        timeout_ms,
        credential: Credential::Stored(format!("sk-{name}-secret")),
    };
    catalog::add_provider(&app.svc, &Actor::system("test"), new)
        .await
        .expect("provider");
}

async fn model(app: &TestApp, name: &str, provider: &str, upstream: &str, priority: i64) {
    let price = Price {
        input_per_mtok: parse_usd("p", "3").expect("price"),
        output_per_mtok: parse_usd("p", "15").expect("price"),
        ..Default::default()
    };
    let new = NewModel {
        name: name.into(),
        provider: provider.into(),
        upstream_model: Some(upstream.into()),
        price,
        priority,
    };
    catalog::add_model(&app.svc, &Actor::system("test"), new)
        .await
        .expect("model");
}

pub(crate) async fn tenant_with_key(
    app: &TestApp,
    name: &str,
    rpm: i64,
    region: &str,
) -> (TenantId, String) {
    let actor = Actor::system("test");
    let settings = TenantSettings::new(name, IsolationLevel::RowLevel, region, rpm, 1_000_000)
        .expect("settings");
    let t = tenants::create(&app.svc, &actor, settings)
        .await
        .expect("tenant");
    let k = api_keys::create(&app.svc, &actor, &t.id, "k", None)
        .await
        .expect("key");
    (t.id, k.key)
}

/// A mock upstream registered as both an Anthropic and an OpenAI provider,
/// with `claude-mock` served by the first and `gpt-mock` by the second.
pub(crate) async fn setup(app: &TestApp, opts: MockOptions) -> Setup {
    let addr = mock(opts).await;
    provider(
        app,
        "mock-anthropic",
        ProviderKind::Anthropic,
        format!("http://{addr}"),
        "any",
        5_000,
    )
    .await;
    provider(
        app,
        "mock-openai",
        ProviderKind::Openai,
        format!("http://{addr}/v1"),
        "any",
        5_000,
    )
    .await;
    model(app, "claude-mock", "mock-anthropic", "claude-upstream", 0).await;
    model(app, "gpt-mock", "mock-openai", "gpt-upstream", 0).await;
    let (tenant_id, anthropic_key) = tenant_with_key(app, "Gateway Co", 10_000, "eu-west").await;
    Setup {
        anthropic_key,
        tenant_id,
        mock: addr,
    }
}

pub(crate) async fn post(app: &TestApp, path: &str, key: &str, body: Value) -> reqwest::Response {
    crate::common::plain_client()
        .post(app.url(path))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn usage_rows(app: &TestApp) -> Vec<(String, i64, i64, i64, i64, i64)> {
    app.running.gateway.ledger.flush().await;
    sqlx::query_as("SELECT model, status, input_tokens, output_tokens, cost_micros, stream FROM usage_events ORDER BY created_at")
        .fetch_all(&app.svc.db.pool).await.expect("usage rows")
}

pub(crate) async fn last_upstream(s: &Setup) -> Value {
    reqwest::get(format!("http://{}/mock/last-request", s.mock))
        .await
        .expect("mock")
        .json()
        .await
        .expect("json")
}

async fn anthropic_client_both_providers(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    for model in ["claude-mock", "gpt-mock"] {
        let r = post(
            &app,
            "/v1/messages",
            &s.anthropic_key,
            json!({
            "model": model, "max_tokens": 50, "system": "Be terse.",
            "messages": [{"role": "user", "content": "hello there world"}]}),
        )
        .await;
        assert_eq!(r.status(), 200, "{model}");
        assert!(r
            .headers()
            .contains_key("anthropic-ratelimit-requests-remaining"));
        assert!(r.headers().contains_key("request-id"));
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["type"], "message", "{b}");
        assert_eq!(b["content"][0]["text"], "echo: hello there world", "{b}");
        assert_eq!(b["stop_reason"], "end_turn");
        assert_eq!(b["usage"]["output_tokens"], 4);
        // The provider got its own model id and the stored secret.
        let up = last_upstream(&s).await;
        if model == "claude-mock" {
            assert_eq!(up["body"]["model"], "claude-upstream");
            assert_eq!(up["x_api_key"], "sk-mock-anthropic-secret");
            assert_eq!(up["body"]["system"], "Be terse.");
        } else {
            assert_eq!(up["body"]["model"], "gpt-upstream");
            assert_eq!(up["authorization"], "Bearer sk-mock-openai-secret");
            assert_eq!(
                up["body"]["messages"][0],
                json!({"role": "system", "content": "Be terse."})
            );
        }
    }
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 2);
    // 3 prompt words + 2 system words... counted by the mock: input 5, output 4 at $3/$15 per MTok.
    for (_, status, input, output, cost, _) in &rows {
        assert_eq!((*status, *output), (200, 4));
        assert_eq!(
            *cost,
            (input * 3_000_000 + output * 15_000_000 + 500_000) / 1_000_000
        );
    }
    let report = atrium::server::services::usage::report(
        &app.svc,
        &Actor::system("t"),
        &s.tenant_id,
        None,
        None,
    )
    .await
    .expect("report");
    assert_eq!(report.totals.requests, 2);
    assert_eq!(report.by_model.len(), 2);
    app
}

pub(crate) async fn openai_client_both_providers(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    for model in ["gpt-mock", "claude-mock"] {
        let r = crate::common::plain_client().post(app.url("/v1/chat/completions"))
            .bearer_auth(&s.anthropic_key)
            .json(&json!({"model": model, "max_tokens": 2, "stop": ["never"],
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "one two three"}]}))
            .send().await.expect("request");
        assert_eq!(r.status(), 200, "{model}");
        assert!(r.headers().contains_key("x-ratelimit-remaining-requests"));
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["object"], "chat.completion");
        assert_eq!(b["model"], model, "the client sees the name it asked for");
        assert_eq!(b["choices"][0]["message"]["content"], "echo: one ");
        assert_eq!(b["choices"][0]["finish_reason"], "length");
        assert_eq!(b["usage"]["completion_tokens"], 2);
        if model == "claude-mock" {
            let up = last_upstream(&s).await;
            assert_eq!(up["body"]["system"], "sys");
            assert_eq!(up["body"]["max_tokens"], 2);
            assert_eq!(up["body"]["stop_sequences"], json!(["never"]));
        }
    }
    app
}

async fn read_sse(r: reqwest::Response) -> Vec<(Option<String>, String)> {
    let text = r.text().await.expect("body");
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_string());
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, data)
        })
        .collect()
}

pub(crate) async fn streaming_in_both_dialects_and_translations(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    for model in ["claude-mock", "gpt-mock"] {
        let r = post(
            &app,
            "/v1/messages",
            &s.anthropic_key,
            json!({"model": model, "max_tokens": 50,
            "stream": true, "messages": [{"role": "user", "content": "stream me please"}]}),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let events = read_sse(r).await;
        let names: Vec<&str> = events
            .iter()
            .filter_map(|(e, _)| e.as_deref())
            .filter(|e| *e != "ping")
            .collect();
        assert_eq!(names.first(), Some(&"message_start"), "{model}: {names:?}");
        assert_eq!(names.last(), Some(&"message_stop"), "{model}");
        assert!(names.contains(&"content_block_delta") && names.contains(&"message_delta"));
        let text: String = events
            .iter()
            .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v.pointer("/delta/text")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, "echo: stream me please", "{model}");
        let delta = events
            .iter()
            .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
            .find(|v| v["type"] == "message_delta")
            .expect("message_delta");
        assert_eq!(delta["usage"]["output_tokens"], 4, "{model}");
    }
    for (model, include) in [
        ("gpt-mock", true),
        ("claude-mock", true),
        ("gpt-mock", false),
        ("claude-mock", false),
    ] {
        let r = crate::common::plain_client().post(app.url("/v1/chat/completions")).bearer_auth(&s.anthropic_key)
            .json(&json!({"model": model, "stream": true, "stream_options": {"include_usage": include},
                "messages": [{"role": "user", "content": "a b"}]}))
            .send().await.expect("request");
        let events = read_sse(r).await;
        assert_eq!(events.last().map(|(_, d)| d.as_str()), Some("[DONE]"));
        let chunks: Vec<Value> = events
            .iter()
            .filter_map(|(_, d)| serde_json::from_str(d).ok())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(text, "echo: a b", "{model}");
        let usage_chunk = chunks.iter().find(|c| c["usage"].is_object());
        assert_eq!(
            usage_chunk.is_some(),
            include,
            "{model} include_usage={include}"
        );
        if let Some(u) = usage_chunk {
            assert_eq!(u["usage"]["completion_tokens"], 3);
        }
        assert!(chunks
            .iter()
            .any(|c| c.pointer("/choices/0/finish_reason") == Some(&json!("stop"))));
    }
    // Every stream is accounted with the usage the provider reported.
    let rows = usage_rows(&app).await;
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|(_, status, input, output, _, stream)| *status == 200
                && *input > 0
                && *output > 0
                && *stream == 1),
        "{rows:?}"
    );
    app
}

async fn tool_calls_survive_translation(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let tools_a = json!([{"name": "lookup", "description": "find", "input_schema": {"type": "object",
        "properties": {"query": {"type": "string"}}}}]);
    for model in ["claude-mock", "gpt-mock"] {
        let r = post(
            &app,
            "/v1/messages",
            &s.anthropic_key,
            json!({"model": model, "max_tokens": 50,
            "tools": tools_a, "messages": [{"role": "user", "content": "weather in Oslo"}]}),
        )
        .await;
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["stop_reason"], "tool_use", "{model}: {b}");
        let call = b["content"]
            .as_array()
            .and_then(|c| c.iter().find(|x| x["type"] == "tool_use"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(call["name"], "lookup");
        assert_eq!(call["input"], json!({"query": "weather in Oslo"}));
        // Send the result back: the mock answers in text once it sees a tool result.
        let r = post(&app, "/v1/messages", &s.anthropic_key, json!({"model": model, "max_tokens": 50,
            "tools": tools_a, "messages": [
                {"role": "user", "content": "weather in Oslo"},
                {"role": "assistant", "content": [call.clone()]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "cold"}]}]})).await;
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["stop_reason"], "end_turn", "{model}: {b}");
    }
    let tools_o = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
    for model in ["gpt-mock", "claude-mock"] {
        let r = crate::common::plain_client().post(app.url("/v1/chat/completions")).bearer_auth(&s.anthropic_key)
            .json(&json!({"model": model, "tools": tools_o, "messages": [{"role": "user", "content": "find x"}]}))
            .send().await.expect("request");
        let b: Value = r.json().await.expect("json");
        assert_eq!(
            b["choices"][0]["finish_reason"], "tool_calls",
            "{model}: {b}"
        );
        let args = b["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap_or("");
        assert_eq!(
            serde_json::from_str::<Value>(args).ok(),
            Some(json!({"query": "find x"}))
        );
    }
    app
}

async fn errors_in_the_callers_dialect(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let client = crate::common::plain_client();
    // 401 in each dialect.
    let r = client
        .post(app.url("/v1/messages"))
        .json(&json!({}))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.expect("json");
    assert_eq!(
        (b["type"].as_str(), b["error"]["type"].as_str()),
        (Some("error"), Some("authentication_error"))
    );
    let r = client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth("atr_bogus")
        .json(&json!({}))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["code"], "invalid_api_key");

    let bad = |body: &'static str| {
        client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &s.anthropic_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = bad("{not json").await.expect("r");
    assert_eq!(r.status(), 422);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["type"], "invalid_request_error");
    let r = bad(r#"{"model": "claude-mock", "messages": [{"role": "user", "content": "x"}]}"#)
        .await
        .expect("r");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap_or_default().contains("max_tokens"));
    let r = bad(
        r#"{"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}"#,
    )
    .await
    .expect("r");
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["type"], "not_found_error");

    let huge = "x".repeat(app.svc.config.max_body_bytes + 10);
    let r = client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&s.anthropic_key)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 413);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["code"], "request_too_large");

    // Data location: a US-only provider is not reachable from an EU tenant.
    provider(
        &app,
        "us-only",
        ProviderKind::Openai,
        format!("http://{}/v1", s.mock),
        "us-east",
        5_000,
    )
    .await;
    model(&app, "us-model", "us-only", "gpt", 0).await;
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({"model": "us-model", "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["type"], "permission_error");

    // Revoked keys and suspended tenants stop at once.
    let actor = Actor::system("test");
    tenants::set_status(
        &app.svc,
        &actor,
        &s.tenant_id,
        atrium::domain::tenant::TenantStatus::Suspended,
    )
    .await
    .expect("suspend");
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({"model": "claude-mock", "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 401);

    // Client errors after authentication are in the ledger too.
    let rows = usage_rows(&app).await;
    let statuses: Vec<i64> = rows.iter().map(|r| r.1).collect();
    for s in [422, 400, 404, 413, 403] {
        assert!(statuses.contains(&s), "{s} recorded: {statuses:?}");
    }
    app
}

async fn rate_limits_hold_under_concurrency(app: TestApp) -> TestApp {
    let s = setup(
        &app,
        MockOptions {
            latency_ms: 20,
            ..Default::default()
        },
    )
    .await;
    let (_, key) = tenant_with_key(&app, "Limited", 10, "eu-west").await;
    let _ = s;
    let client = crate::common::plain_client();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (client, url, key) = (client.clone(), app.url("/v1/chat/completions"), key.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"model": "gpt-mock",
                "messages": [{"role": "user", "content": format!("n{i}")}]}))
                    .send()
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        let r = t.await.expect("task").expect("response");
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                let retry: u64 = r.headers()["retry-after"]
                    .to_str()
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                assert!((1..=60).contains(&retry), "retry-after {retry}");
                let b: Value = r.json().await.expect("json");
                assert_eq!(b["error"]["code"], "rate_limit_exceeded");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, limited), (10, 54), "exactly the limit is admitted");
    app
}

async fn fallback_retry_and_upstream_faults(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    // A dead provider first, a live one second: the request falls back.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr");
    provider(
        &app,
        "dead",
        ProviderKind::Openai,
        format!("http://{dead}/v1"),
        "any",
        2_000,
    )
    .await;
    model(&app, "resilient", "dead", "x", 0).await;
    model(&app, "resilient", "mock-openai", "gpt-upstream", 1).await;
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({"model": "resilient", "max_tokens": 5,
        "messages": [{"role": "user", "content": "still here"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    // Only dead providers: 502.
    model(&app, "doomed", "dead", "x", 0).await;
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({"model": "doomed", "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 502);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["error"]["type"], "api_error");
    // A provider that fails every other request is retried.
    let flaky = mock(MockOptions {
        fail_every: 2,
        ..Default::default()
    })
    .await;
    provider(
        &app,
        "flaky",
        ProviderKind::Anthropic,
        format!("http://{flaky}"),
        "any",
        2_000,
    )
    .await;
    model(&app, "flaky-model", "flaky", "m", 0).await;
    for _ in 0..4 {
        let r = post(
            &app,
            "/v1/messages",
            &s.anthropic_key,
            json!({"model": "flaky-model", "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    // Too slow: 504.
    let slow = mock(MockOptions {
        latency_ms: 1_500,
        ..Default::default()
    })
    .await;
    provider(
        &app,
        "slow",
        ProviderKind::Openai,
        format!("http://{slow}/v1"),
        "any",
        200,
    )
    .await;
    model(&app, "slow-model", "slow", "m", 0).await;
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({"model": "slow-model", "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 504);
    app
}

async fn aliases_models_list_and_metrics(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    catalog::set_alias(
        &app.svc,
        &Actor::system("t"),
        &s.tenant_id,
        "support-bot",
        "gpt-mock",
    )
    .await
    .expect("alias");
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({"model": "support-bot", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["model"], "support-bot");
    assert_eq!(last_upstream(&s).await["body"]["model"], "gpt-upstream");
    // Another tenant does not have the alias.
    let (_, other) = tenant_with_key(&app, "Other", 100, "eu-west").await;
    let r = post(
        &app,
        "/v1/messages",
        &other,
        json!({"model": "support-bot", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 404);

    let r = crate::common::plain_client()
        .get(app.url("/v1/models"))
        .bearer_auth(&s.anthropic_key)
        .send()
        .await
        .expect("r");
    let b: Value = r.json().await.expect("json");
    let ids: Vec<&str> = b["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["claude-mock", "gpt-mock", "support-bot"]);

    let anonymous = reqwest::get(app.url("/metrics")).await.expect("metrics");
    assert_eq!(anonymous.status(), 401, "metrics need the token");
    let text = app.metrics().await;
    assert!(text.contains("atrium_requests_total"), "{text}");
    assert!(text.contains("atrium_gateway_seconds_bucket"));
    assert!(text.contains("atrium_ledger_queue_depth"));
    app
}

pub(crate) async fn abandoned_streams_are_accounted(app: TestApp) -> TestApp {
    let s = setup(
        &app,
        MockOptions {
            stream_chunk_delay_ms: 200,
            ..Default::default()
        },
    )
    .await;
    let r = post(&app, "/v1/messages", &s.anthropic_key, json!({"model": "claude-mock", "max_tokens": 50,
        "stream": true, "messages": [{"role": "user", "content": "a long reply that takes a while"}]})).await;
    let mut body = r.bytes_stream();
    let first = body.next().await;
    assert!(first.is_some());
    drop(body);
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = usage_rows(&app).await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, 499, "recorded as closed by the client");
    assert!(
        rows[0].2 > 0,
        "input tokens seen before the client left are kept"
    );

    // A client that gives up on a slow non-streamed answer is accounted too:
    // the provider still answers (and bills), so the request is awaited and
    // recorded at the usage the provider reported (issue 21, item 6).
    let slow = mock(MockOptions {
        latency_ms: 1_500,
        ..Default::default()
    })
    .await;
    provider(
        &app,
        "slowish",
        ProviderKind::Anthropic,
        format!("http://{slow}"),
        "any",
        5_000,
    )
    .await;
    model(&app, "slowish-model", "slowish", "m", 0).await;
    let gave_up = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().expect("client")
        .post(app.url("/v1/messages")).header("x-api-key", &s.anthropic_key)
        .json(&json!({"model": "slowish-model", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send().await;
    assert!(gave_up.is_err());
    let mut found = false;
    for _ in 0..50 {
        found = usage_rows(&app)
            .await
            .iter()
            .any(|r| r.0 == "slowish-model" && r.1 == 200 && r.2 > 0);
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the abandoned request has its usage_event");
    app
}

/// Two gateway replicas on one database share one limit through Redis.
async fn redis_limits_hold_across_replicas(app: TestApp) -> TestApp {
    // The harness runs this only where Redis is configured.
    let redis = common::redis_url().expect("ATRIUM_TEST_REDIS_URL");
    setup(
        &app,
        MockOptions {
            latency_ms: 10,
            ..Default::default()
        },
    )
    .await;
    let (_, key) = tenant_with_key(&app, "Shared Limit", 12, "eu-west").await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = common::config(&app.db_url, dir.path());
        config.redis_url = Some(redis.clone());
        config.secret_key = None;
        let db = atrium::server::db::Db::connect(&app.db_url)
            .await
            .expect("replica pool");
        let svc = atrium::server::services::Services::new(db, config, app.svc.secrets.clone());
        let running = atrium::server::runtime::start(svc).await.expect("replica");
        assert!(running.gateway.limiter.is_shared());
        replicas.push((running, dir));
    }
    let client = crate::common::plain_client();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let url = format!("http://{}/v1/chat/completions", replicas[i % 2].0.addr);
            let (client, key) = (client.clone(), key.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"model": "gpt-mock",
                "messages": [{"role": "user", "content": "x"}]}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("task").expect("response") == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 12, "the two replicas together admit exactly the limit");
    for (r, _) in replicas {
        let _ = r.shutdown().await;
    }
    app
}

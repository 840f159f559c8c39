//! Abuse cases (issue 10), on SQLite and PostgreSQL: what one key holder
//! could do to stop the platform or slip data past a policy. Each case
//! failed before its fix.

use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::governance::{rule, setup, upstream_saw, CARD, EMAIL};
use atrium::domain::pii::EntityType;
use atrium::domain::policy::{Action, Direction, Target};
use serde_json::{json, Value};

on_both_backends!(
    every_forwarded_string_is_governed,
    a_body_full_of_emails_is_answered_in_bounded_time,
    refused_requests_still_spend_a_request,
    malformed_bodies_are_refused_naming_the_field,
    made_up_model_names_do_not_grow_metric_labels,
    a_poisoned_event_cannot_stall_the_ledger,
);

pub(crate) async fn post(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Value) {
    let req = crate::common::plain_client().post(app.url(path));
    let req = if path == "/v1/messages" {
        req.header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
    } else {
        req.bearer_auth(key)
    };
    let res = req.json(body).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// PII outside `system` and `messages` reached the provider unscanned in
/// same-dialect passthrough: tool descriptions and schemas, document data,
/// metadata (values and keys), OpenAI message names.
async fn every_forwarded_string_is_governed(app: TestApp) -> TestApp {
    let s = setup(&app, "Fields").await;
    let t = Some(&s.tenant_id);
    let email = Target::Entity(EntityType::EmailAddress);
    rule(&app.svc, t, email, Action::Redact, Direction::Prompt).await;
    let card = Target::Entity(EntityType::CreditCard);
    rule(&app.svc, t, card, Action::Block, Direction::Prompt).await;

    let body = json!({
        "model": "claude-mock", "max_tokens": 16,
        "metadata": { "user_id": EMAIL },
        "tools": [{ "name": "lookup", "description": format!("ask {EMAIL} first"),
                    "input_schema": { "type": "object", "properties": {
                        "who": { "type": "string", "description": format!("e.g. {EMAIL}") },
                        EMAIL: { "type": "string" } } } }],
        "messages": [{ "role": "user", "content": [
            { "type": "document", "source": { "type": "text", "media_type": "text/plain",
                                               "data": format!("contact {EMAIL}") } },
            { "type": "text", "text": "summarise" }] }]
    });
    let (status, answer) = post(&app, &s.key, "/v1/messages", &body).await;
    assert_eq!(status, 200, "{answer}");
    let seen = upstream_saw(&s).await;
    assert!(
        !seen.contains(EMAIL),
        "an e-mail reached the provider: {seen}"
    );
    assert!(
        seen.matches("[REDACTED:EMAIL_ADDRESS]").count() >= 5,
        "{seen}"
    );

    // A name allows `[a-zA-Z0-9_-]`: the card written with hyphens.
    let name = CARD.replace(' ', "-");
    let body = json!({ "model": "gpt-mock", "messages": [
        { "role": "user", "name": name, "content": "hello" }] });
    let (status, answer) = post(&app, &s.key, "/v1/chat/completions", &body).await;
    assert_eq!(status, 403, "a card in a message name is blocked: {answer}");
    app
}

/// Overlaps were resolved by comparing each finding with every kept one:
/// a 10 MB body of e-mail addresses cost minutes of CPU on a worker.
async fn a_body_full_of_emails_is_answered_in_bounded_time(app: TestApp) -> TestApp {
    let s = setup(&app, "Flood").await;
    let email = Target::Entity(EntityType::EmailAddress);
    rule(
        &app.svc,
        Some(&s.tenant_id),
        email,
        Action::Redact,
        Direction::Prompt,
    )
    .await;
    let mut text = String::with_capacity(10 << 20);
    let mut i = 0;
    while text.len() < (10 << 20) - 64 * 1024 {
        text.push_str(&format!("u{i}@example.com "));
        i += 1;
    }
    let body = json!({ "model": "claude-mock", "max_tokens": 16,
                       "messages": [{ "role": "user", "content": text }] });
    let flood = {
        let (app_url, key) = (app.url("/v1/messages"), s.key.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let res = crate::common::plain_client()
                .post(app_url)
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
                .json(&body)
                .send()
                .await
                .expect("flood");
            (res.status().as_u16(), started.elapsed())
        })
    };
    // Meanwhile a small request is not held up behind the scan.
    let small = json!({ "model": "claude-mock", "max_tokens": 16,
                        "messages": [{ "role": "user", "content": "hi" }] });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let (status, _) = post(&app, &s.key, "/v1/messages", &small).await;
    assert_eq!(status, 200);
    let small_took = started.elapsed();
    let (status, took) = flood.await.expect("flood task");
    assert_eq!(status, 200);
    // Generous bounds for a loaded 2-core CI machine; before the fix the
    // flood took minutes.
    assert!(took < Duration::from_secs(60), "10 MB scan took {took:?}");
    assert!(
        small_took < Duration::from_secs(5),
        "small request waited {small_took:?}"
    );
    let seen = upstream_saw(&s).await;
    assert!(!seen.contains("@example.com"), "nothing past the cap leaks");
    app
}

/// Admission comes first: an invalid request, an unknown model or a
/// blocked prompt has still spent its place in the requests per minute.
async fn refused_requests_still_spend_a_request(app: TestApp) -> TestApp {
    use atrium::domain::tenant::TenantSettings;
    use atrium::server::services::{api_keys, tenants, Actor};
    let admin = Actor::system("test");
    let settings = TenantSettings::new(
        "Two a minute",
        atrium::domain::tenant::IsolationLevel::RowLevel,
        "any",
        2,
        1_000_000,
    )
    .expect("settings");
    let t = tenants::create(&app.svc, &admin, settings)
        .await
        .expect("tenant");
    let key = api_keys::create(&app.svc, &admin, &t.id, "k", None)
        .await
        .expect("key")
        .key;
    let unknown = json!({ "model": "no-such-model", "max_tokens": 16,
                          "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(post(&app, &key, "/v1/messages", &unknown).await.0, 404);
    let invalid = json!({ "model": "no-such-model" });
    assert_eq!(post(&app, &key, "/v1/messages", &invalid).await.0, 400);
    let (status, err) = post(&app, &key, "/v1/messages", &unknown).await;
    assert_eq!(status, 429, "the third request in a minute: {err}");
    app
}

/// Bodies the provider would have had to guess at were forwarded and
/// answered 200 by the mock.
async fn malformed_bodies_are_refused_naming_the_field(app: TestApp) -> TestApp {
    let s = setup(&app, "Malformed").await;
    let user = |content: Value| json!([{ "role": "user", "content": content }]);
    let cases = [
        (json!({ "messages": user(json!(5)) }), "messages[0].content"),
        (
            json!({ "messages": [{ "role": "robot", "content": "x" }] }),
            "messages[0].role",
        ),
        (
            json!({ "max_tokens": -1, "messages": user(json!("x")) }),
            "max_tokens",
        ),
        (
            json!({ "max_tokens": "ten", "messages": user(json!("x")) }),
            "max_tokens",
        ),
        (
            json!({ "temperature": "hot", "messages": user(json!("x")) }),
            "temperature",
        ),
        (json!({ "messages": user(json!("a\u{0}b")) }), "NUL"),
        (
            json!({ "model": "m\u{0}", "messages": user(json!("x")) }),
            "model",
        ),
        (
            json!({ "model": "m".repeat(300), "messages": user(json!("x")) }),
            "model",
        ),
    ];
    for (path, model) in [
        ("/v1/messages", "claude-mock"),
        ("/v1/chat/completions", "gpt-mock"),
    ] {
        for (fields, needle) in &cases {
            let mut body = json!({ "model": model, "max_tokens": 16 });
            for (k, v) in fields.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            let (status, err) = post(&app, &s.key, path, &body).await;
            assert_eq!(status, 400, "{path} {body}: {err}");
            let message = err["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(needle),
                "{path}: {message} should name {needle}"
            );
        }
        let res = crate::common::plain_client()
            .post(app.url(path))
            .header("x-api-key", &s.key)
            .bearer_auth(&s.key)
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "text/plain")
            .body(
                json!({ "model": model, "max_tokens": 16, "messages": user(json!("x")) })
                    .to_string(),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 400, "{path}: text/plain is refused");
    }
    app
}

/// The raw model string was a metric label: every made-up name added a
/// series for good.
async fn made_up_model_names_do_not_grow_metric_labels(app: TestApp) -> TestApp {
    let s = setup(&app, "Labels").await;
    let client = crate::common::plain_client();
    let sends = (0..2_000).map(|i| {
        let body = json!({ "model": format!("made-up-{i}"), "max_tokens": 16,
                           "messages": [{ "role": "user", "content": "x" }] });
        let req = client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &s.key)
            .header("anthropic-version", "2023-06-01")
            .json(&body);
        async move { req.send().await.map(|r| r.status().as_u16()) }
    });
    let statuses = futures::future::join_all(sends).await;
    assert!(
        statuses.iter().all(|r| matches!(r, Ok(404))),
        "unknown models are 404"
    );
    let text = app.metrics().await;
    assert!(
        !text.contains("made-up-"),
        "a client's model name became a label"
    );
    assert!(
        text.contains("model=\"unknown\""),
        "refusals count under unknown"
    );
    app
}

/// One event PostgreSQL refuses (NUL in text) made its whole batch retry
/// forever; the queue filled and every request of every tenant waited.
async fn a_poisoned_event_cannot_stall_the_ledger(app: TestApp) -> TestApp {
    use atrium::domain::completion::Dialect;
    use atrium::domain::pii::Classification;
    use atrium::domain::usage::UsageEvent;
    use atrium::server::db::Backend;
    let s = setup(&app, "Poisoned").await;
    let gw = &app.running.gateway;
    let poison = UsageEvent {
        request_id: "req_poison".into(),
        tenant_id: s.tenant_id.clone(),
        api_key_id: None,
        kind: Default::default(),
        units: 0,
        model: "bad\0model".into(),
        provider: None,
        dialect: Some(Dialect::Anthropic),
        stream: false,
        input_tokens: 1,
        output_tokens: 1,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: 0,
        latency_ms: 1,
        status: 200,
        error_type: None,
        created_at: 1,
        policy_action: Action::Allow,
        classification: Classification::Public,
        price_from: None,
        pii_classes: Default::default(),
        provider_region: None,
        end_user: None,
        log: None,
    };
    gw.ledger.push(poison).await;
    let body = json!({ "model": "claude-mock", "max_tokens": 16,
                       "messages": [{ "role": "user", "content": "hi" }] });
    let sends = (0..300).map(|_| {
        let (app, key, body) = (&app, &s.key, &body);
        async move {
            let started = Instant::now();
            let status = post(app, key, "/v1/messages", body).await.0;
            (status, started.elapsed())
        }
    });
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(|(status, _)| *status == 200));
    let slowest = results.iter().map(|(_, t)| *t).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(10),
        "a request waited {slowest:?}"
    );
    gw.ledger.flush().await;
    let store = app.svc.stores.open(&s.tenant_id).await.expect("store");
    let events = store.usage_page("", None, 1_000).await.expect("events");
    let good = events
        .iter()
        .filter(|e| e.request_id != "req_poison")
        .count();
    assert_eq!(good, 300, "every good event is stored");
    let (dead,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM dead_letters WHERE queue = 'usage ledger'")
            .fetch_one(&app.svc.db.pool)
            .await
            .expect("dead letters");
    let poisoned_stored = events.iter().any(|e| e.request_id == "req_poison");
    match app.svc.db.backend {
        // PostgreSQL refuses the NUL: the event is kept as a dead letter.
        Backend::Postgres => assert_eq!((dead, poisoned_stored), (1, false)),
        // SQLite keeps NUL in text: nothing is refused.
        Backend::Sqlite => assert_eq!((dead, poisoned_stored), (0, true)),
    }
    // The dashboard shows the count to a platform admin.
    let client = crate::common::client();
    app.sign_in(
        &client,
        crate::common::ADMIN_EMAIL,
        crate::common::ADMIN_PASSWORD,
    )
    .await;
    let page = client.get(app.url("/")).send().await.expect("dashboard");
    let html = page.text().await.expect("html");
    let shown = html
        .split_once(r#"data-testid="dead-letters""#)
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(_, rest)| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
    assert_eq!(
        shown,
        Some(dead.to_string()),
        "dead letters on the dashboard"
    );
    app
}

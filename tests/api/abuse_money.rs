//! Issue 21, money under attack, on both backends: what a hostile tenant
//! sends to get past a hard budget or to mint billing rows. Each test
//! failed before its fix.

use atrium::server::devtools::mock_upstream::MockOptions;
use serde_json::{json, Value};

use crate::budgets::hard_budget;
use crate::common::TestApp;
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(
    an_overflowing_output_limit_is_refused_and_the_budget_holds,
    every_choice_is_held,
    the_larger_output_field_is_held,
    made_up_model_names_share_one_ledger_name,
    server_side_tools_are_refused,
    a_redacted_prompt_is_held_at_its_redacted_size,
    priced_flag_evaluations_are_held_against_hard_budgets,
    viewers_see_only_the_host_of_a_budget_webhook,
);

/// One OpenAI-dialect request; its status and body.
async fn send(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let r = app.chat(key, &body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn send_anthropic(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let r = crate::common::plain_client()
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ask(model: &str, extra: Value) -> Value {
    let mut body = json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(extra.clone());
    }
    body
}

fn assert_budget_refusal(status: u16, body: &Value) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
}

/// `max_tokens` near i64::MAX once wrapped the in-process sum, so that
/// while it was in flight every other request passed: it is refused as
/// more than the whole limit, holds nothing, and the budget keeps working.
async fn an_overflowing_output_limit_is_refused_and_the_budget_holds(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Overflow", 1_000, "eu-west").await;
    hard_budget(&app, &tenant, 10_000).await; // $0.01
    for max in [json!(9_000_000_000_000_000_000u64), json!(u64::MAX)] {
        let (status, body) = send(&app, &key, ask("gpt-mock", json!({ "max_tokens": max }))).await;
        assert_budget_refusal(status, &body);
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("more than"), "{body}");
        let big = json!({ "max_tokens": 1, "max_completion_tokens": max });
        let (status, body) = send(&app, &key, ask("gpt-mock", big)).await;
        assert_budget_refusal(status, &body);
    }
    let anthropic = ask(
        "claude-mock",
        json!({ "max_tokens": 9_000_000_000_000_000_000u64 }),
    );
    let (status, body) = send_anthropic(&app, &key, anthropic).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "budget_exceeded", "{body}");
    // 1,600 output tokens at $15 per million is $0.024: more than the budget.
    let (status, body) = send(&app, &key, ask("gpt-mock", json!({ "max_tokens": 1_600 }))).await;
    assert_budget_refusal(status, &body);
    // A small request still fits: nothing was left held.
    let (status, body) = send(&app, &key, ask("gpt-mock", json!({ "max_tokens": 16 }))).await;
    assert_eq!(status, 200, "{body}");
    app
}

/// OpenAI bills every one of `n` choices: the hold covers them all.
async fn every_choice_is_held(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Choices", 1_000, "eu-west").await;
    hard_budget(&app, &tenant, 100_000).await; // $0.10
                                               // One choice of 4,096 tokens is about $0.06; 128 of them about $7.86.
    let (status, body) = send(&app, &key, ask("gpt-mock", json!({ "max_tokens": 4096 }))).await;
    assert_eq!(status, 200, "{body}");
    let many = json!({ "max_tokens": 4096, "n": 128 });
    let (status, body) = send(&app, &key, ask("gpt-mock", many)).await;
    assert_budget_refusal(status, &body);
    let two = json!({ "max_tokens": 4096, "n": 2 });
    let (status, body) = send(&app, &key, ask("gpt-mock", two)).await;
    assert_budget_refusal(status, &body);
    for bad in [json!(1.5), json!(0), json!(129), json!("2")] {
        let (status, body) = send(&app, &key, ask("gpt-mock", json!({ "n": bad }))).await;
        assert_eq!(status, 400, "n = {bad}: {body}");
    }
    app
}

/// Providers (and the translation to OpenAI, and vLLM) honour
/// `max_completion_tokens`: the larger of the two fields is held.
async fn the_larger_output_field_is_held(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Fields", 1_000, "eu-west").await;
    hard_budget(&app, &tenant, 100_000).await; // $0.10
    for fields in [
        json!({ "max_tokens": 1, "max_completion_tokens": 64_000 }),
        json!({ "max_completion_tokens": 1, "max_tokens": 64_000 }),
        json!({ "max_completion_tokens": 64_000 }),
    ] {
        let (status, body) = send(&app, &key, ask("gpt-mock", fields.clone())).await;
        assert_budget_refusal(status, &body);
    }
    let small = json!({ "max_tokens": 16, "max_completion_tokens": 32 });
    let (status, body) = send(&app, &key, ask("gpt-mock", small)).await;
    assert_eq!(status, 200, "{body}");
    app
}

/// 150 made-up model names once made 150 usage groups, rollup rows and
/// invoice slices: the ledger records one name for all of them, and the
/// refusal still names what was asked for.
async fn made_up_model_names_share_one_ledger_name(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Names", 10_000, "eu-west").await;
    for i in 0..150 {
        let name = format!("made-up-{i}");
        let (status, body) = send(&app, &key, ask(&name, json!({ "max_tokens": 8 }))).await;
        assert_eq!(status, 404, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(&name), "{body}");
    }
    let (status, body) = send(&app, &key, ask("gpt-mock", json!({ "max_tokens": 8 }))).await;
    assert_eq!(status, 200, "{body}");
    app.running.gateway.ledger.flush().await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT model FROM usage_events WHERE tenant_id = $1 ORDER BY model",
    )
    .bind(tenant.to_string())
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("names");
    assert_eq!(names, vec!["(unknown model)", "gpt-mock"]);
    let hours: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT model) FROM usage_hourly WHERE tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_one(&app.svc.db.pool)
            .await
            .expect("rollups");
    assert!(hours <= 2, "{hours} model groups in the rollups");
    app
}

/// Server-side tools add tokens and per-use fees: refused in both
/// dialects, naming the tool, while no platform admin allowed them for the
/// model (`abuse_server_tools` covers them allowed).
async fn server_side_tools_are_refused(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (_, key) = tenant_with_key(&app, "Tools", 1_000, "eu-west").await;
    let search = json!({ "max_tokens": 64, "tools": [
        { "type": "web_search_20250305", "name": "web_search", "max_uses": 5 }
    ]});
    let (status, body) = send_anthropic(&app, &key, ask("claude-mock", search)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("web_search_20250305")));
    for extra in [
        json!({ "max_tokens": 64, "tools": [{ "type": "code_execution_20250522", "name": "x" }] }),
        json!({ "max_tokens": 64, "mcp_servers": [{ "type": "url", "url": "https://example.com", "name": "m" }] }),
    ] {
        let (status, body) = send_anthropic(&app, &key, ask("claude-mock", extra)).await;
        assert_eq!(status, 400, "{body}");
    }
    let options = json!({ "web_search_options": {} });
    let (status, body) = send(&app, &key, ask("gpt-mock", options)).await;
    assert_eq!(status, 400, "{body}");
    let function = json!({ "tools": [{ "type": "function", "function": { "name": "f" } }] });
    let (status, body) = send(&app, &key, ask("gpt-mock", function)).await;
    assert_eq!(status, 200, "a plain function tool is the client's: {body}");
    app
}

/// Redaction can lengthen a prompt (`[REDACTED:IP_ADDRESS]` for
/// `1.2.3.4`): the hold covers what is forwarded, not what was received.
async fn a_redacted_prompt_is_held_at_its_redacted_size(app: TestApp) -> TestApp {
    use atrium::domain::pii::EntityType;
    use atrium::domain::policy::{Action, Direction, Target};
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Redacted", 1_000, "eu-west").await;
    atrium::server::services::policies::add(
        &app.svc,
        &atrium::server::services::Actor::system("test"),
        Some(&tenant),
        Target::Entity(EntityType::IpAddress),
        Action::Redact,
        Direction::Prompt,
    )
    .await
    .expect("policy");
    // 2,000 addresses: about 16 KB received ($0.05 held at $3/M), about
    // 44 KB forwarded ($0.13): a $0.08 budget fits the one, not the other.
    hard_budget(&app, &tenant, 80_000).await;
    let text = vec!["1.2.3.4"; 2_000].join(" ");
    let body = json!({ "model": "gpt-mock", "max_tokens": 64,
        "messages": [{ "role": "user", "content": text }] });
    let (status, body) = send(&app, &key, body).await;
    assert_budget_refusal(status, &body);
    app
}

/// OFREP evaluations are priced in the ledger: a hard budget holds them
/// like completions, so bulk calls cannot spend past it.
async fn priced_flag_evaluations_are_held_against_hard_budgets(app: TestApp) -> TestApp {
    use atrium::domain::flag::{Flag, FlagKey};
    use atrium::server::services::catalog::{self, prices};
    use atrium::server::services::flags::{self, Scope};
    use atrium::server::services::Actor;
    let admin = Actor::system("test");
    let (tenant, key) = tenant_with_key(&app, "Evaluations", 10_000, "eu-west").await;
    for name in ["one", "two", "three"] {
        let flag = Flag::boolean(FlagKey::parse(name).expect("key"), name);
        flags::create(&app.svc, &admin, &Scope::Tenant(tenant.clone()), flag)
            .await
            .expect("flag");
    }
    prices::set_evaluation(&app.svc, &admin, 1_000, None)
        .await
        .expect("price"); // $0.001 an evaluation
    hard_budget(&app, &tenant, 10_000).await; // $0.01: ten evaluations
    let now = atrium::domain::time::now_millis;
    for _ in 0..100 {
        let snap = catalog::snapshot(&app.svc);
        if snap.evaluation_prices.at(now()).map(|v| v.price) == Some(1_000) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let bulk = "/ofrep/v1/evaluate/flags";
    let context = r#"{"context":{"targetingKey":"u1"}}"#;
    let mut answered = 0;
    for _ in 0..5 {
        let (status, body, _) = crate::flags::ofrep(&app, &key, bulk, context).await;
        match status {
            200 => answered += 1,
            429 => assert!(body.to_string().contains("budget_exceeded"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        answered, 3,
        "three bulk calls of three evaluations fit in ten"
    );
    let one = "/ofrep/v1/evaluate/flags/one";
    assert_eq!(crate::flags::ofrep(&app, &key, one, context).await.0, 200);
    assert_eq!(crate::flags::ofrep(&app, &key, one, context).await.0, 429);
    let spent = crate::budgets::spent(&app, &tenant).await;
    assert_eq!(spent, 10_000, "ten evaluations, never more");
    app
}

/// A webhook URL often carries its receiver's secret: tenant viewers see
/// its host only; those who may change the budget see it whole.
async fn viewers_see_only_the_host_of_a_budget_webhook(app: TestApp) -> TestApp {
    use atrium::domain::budget::{Enforcement, Period};
    use atrium::domain::role::Role;
    use atrium::server::services::budgets::{self, BudgetSpec};
    use atrium::server::services::Actor;
    let (tenant, _) = tenant_with_key(&app, "Hooks", 100, "eu-west").await;
    let url = "https://127.0.0.1:9/hooks/T000/SECRET-TOKEN?sig=abc";
    let spec = BudgetSpec {
        tenant: tenant.to_string(),
        api_key: None,
        limit_micros: 1_000_000,
        period: Period::Month,
        enforcement: Enforcement::Soft,
        webhook_url: Some(url.into()),
    };
    budgets::set(&app.svc, &Actor::system("test"), spec)
        .await
        .expect("budget");
    let as_role = |role| Actor {
        user_id: Some("u".into()),
        label: "u@hooks.test".into(),
        role,
        tenant_id: Some(tenant.clone()),
        client_ip: None,
    };
    let seen = |budgets: Vec<atrium::domain::budget::Budget>| {
        budgets
            .into_iter()
            .find_map(|b| b.webhook_url)
            .unwrap_or_default()
    };
    let viewer = budgets::list(&app.svc, &as_role(Role::TenantViewer), &tenant)
        .await
        .expect("list");
    assert_eq!(seen(viewer), "https://127.0.0.1:9/…");
    let admin = budgets::list(&app.svc, &as_role(Role::TenantAdmin), &tenant)
        .await
        .expect("list");
    assert_eq!(seen(admin), url);
    app
}

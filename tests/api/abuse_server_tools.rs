//! Issue 21, item 7, on both backends: server-side tools (web search and
//! fetch, run by the provider) are refused unless a platform admin allows
//! them for the model; where allowed, every use is bounded (`max_uses`,
//! web fetch's `max_content_tokens`), held against hard budgets and priced
//! per use in the ledger.

use atrium::domain::completion::ServerTools;
use atrium::domain::pricing::Price;
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::catalog::{self, prices};
use atrium::server::services::{Actor, ServiceError};
use serde_json::{json, Value};

use crate::budgets::{hard_budget, spent};
use crate::common::TestApp;
use crate::gateway::{last_upstream, post, setup, tenant_with_key};

on_both_backends!(
    server_tools_are_bounded_held_and_priced_where_a_model_allows_them,
    only_platform_admins_allow_server_tools,
);

const USE_MICROS: i64 = 10_000; // $0.01 a use

fn search(tools: Value) -> Value {
    json!({ "model": "claude-mock", "max_tokens": 16, "tools": tools,
        "messages": [{ "role": "user", "content": "look it up" }] })
}

async fn server_tools_are_bounded_held_and_priced_where_a_model_allows_them(
    app: TestApp,
) -> TestApp {
    let admin = Actor::system("test");
    let s = setup(&app, MockOptions::default()).await;
    let web_search = json!([{ "type": "web_search_20250305", "name": "web_search" }]);
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        search(web_search.clone()),
    )
    .await;
    assert_eq!(r.status(), 400, "refused until the model allows them");

    let tools = ServerTools::new(3, 5_000).expect("allowance");
    catalog::set_server_tools(&app.svc, &admin, "claude-mock", tools)
        .await
        .expect("allow");
    let price = Price {
        per_server_tool_use: USE_MICROS,
        ..crate::budgets::price()
    };
    prices::set(&app.svc, &admin, "claude-mock", price, None)
        .await
        .expect("price");

    // No limit of its own: the model's is written in, and each use billed.
    let r = post(&app, "/v1/messages", &s.anthropic_key, search(web_search)).await;
    assert_eq!(r.status(), 200);
    let sent = last_upstream(&s).await;
    assert_eq!(sent["body"]["tools"][0]["max_uses"], 3, "{sent}");
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["usage"]["server_tool_use"]["web_search_requests"], 3);
    app.running.gateway.ledger.flush().await;
    let (units, cost, input): (i64, i64, i64) = sqlx::query_as(
        "SELECT units, cost_micros, input_tokens FROM usage_events ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("row");
    assert_eq!(units, 3, "the ledger counts the uses");
    let tokens = input * 3 + 16 * 15; // $3 and $15 per million
    assert!(
        cost >= 3 * USE_MICROS && cost <= 3 * USE_MICROS + tokens,
        "three uses at $0.01 plus tokens: {cost}"
    );

    // Fetch is held to the allowance by its own content limit.
    let fetch = json!([{ "type": "web_fetch_20250910", "name": "web_fetch", "max_uses": 2 }]);
    let r = post(&app, "/v1/messages", &s.anthropic_key, search(fetch)).await;
    assert_eq!(r.status(), 200);
    let sent = last_upstream(&s).await;
    assert_eq!(sent["body"]["tools"][0]["max_content_tokens"], 5_000);

    // Past the model's limits, or of a kind no field bounds: refused.
    for (tools, field) in [
        (
            json!([{ "type": "web_search_20250305", "name": "s", "max_uses": 4 }]),
            "max_uses",
        ),
        (
            json!([{ "type": "web_search_20250305", "name": "s", "max_uses": "3" }]),
            "max_uses",
        ),
        (
            json!([{ "type": "web_fetch_20250910", "name": "f", "max_content_tokens": 5_001 }]),
            "max_content_tokens",
        ),
        (
            json!([{ "type": "code_execution_20250522", "name": "c" }]),
            "code_execution",
        ),
    ] {
        let r = post(&app, "/v1/messages", &s.anthropic_key, search(tools)).await;
        assert_eq!(r.status(), 400);
        let b: Value = r.json().await.expect("json");
        let message = b["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{message}");
    }

    // A hard budget holds every use. One use's worst case: about 3,300
    // bytes and tool prompts plus its 5,000 tokens at $3/M (about $0.025),
    // 16 output tokens, and the use itself ($0.01). Its tokens fit in
    // $0.03, the use does not; in $0.04 both do.
    let one = json!([{ "type": "web_search_20250305", "name": "s", "max_uses": 1 }]);
    for (name, limit, status) in [("Tight", 30_000, 429), ("Roomy", 40_000, 200)] {
        let (tenant, key) = tenant_with_key(&app, name, 1_000, "eu-west").await;
        hard_budget(&app, &tenant, limit).await;
        let r = post(&app, "/v1/messages", &key, search(one.clone())).await;
        assert_eq!(r.status(), status, "{name}");
        app.running.gateway.ledger.flush().await;
        let spent = spent(&app, &tenant).await;
        assert!(spent <= limit, "{spent}");
        if status == 200 {
            assert!(spent >= USE_MICROS, "the use is charged: {spent}");
        }
    }
    app
}

async fn only_platform_admins_allow_server_tools(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let tenant_admin = crate::abuse_pools::tenant_admin(&s.tenant_id);
    let tools = ServerTools::new(3, 5_000).expect("allowance");
    let e = catalog::set_server_tools(&app.svc, &tenant_admin, "claude-mock", tools)
        .await
        .expect_err("tenant admins cannot");
    assert!(matches!(e, ServiceError::Forbidden), "{e:?}");
    for (uses, tokens) in [(101, 1), (-1, 1), (1, 0), (1, 1_000_001)] {
        assert!(ServerTools::new(uses, tokens).is_err(), "{uses} {tokens}");
    }
    let admin = Actor::system("test");
    catalog::set_server_tools(&app.svc, &admin, "claude-mock", tools)
        .await
        .expect("allow");
    let row: (String, String) = sqlx::query_as(
        "SELECT action, details FROM audit_events WHERE action = 'model.server_tools'",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("audited");
    assert!(row.1.contains("\"max_uses\":3"), "{}", row.1);
    app
}

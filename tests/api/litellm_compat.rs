//! Issue 23, LiteLLM migration path, on both backends: the requests
//! LiteLLM's own documentation shows for `/team/new`, `/key/generate`,
//! `/key/info`, `/spend/logs` and `/key/delete`, sent unchanged with an
//! admin token as the master key. The key they make works on the gateway,
//! its budget holds, its spend shows, and deleting it stops it.

use atrium::domain::admin_token::Scope;
use atrium::server::devtools::mock_upstream::MockOptions;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_api::token;
use crate::budgets::call as complete;
use crate::common::{plain_client, TestApp};
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(
    litellms_documented_key_requests_work_unchanged,
    litellm_calls_keep_tenant_scope_and_refuse_in_litellms_shape,
);

async fn lite(
    app: &TestApp,
    master: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = plain_client()
        .request(method, app.url(path))
        .bearer_auth(master);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("reachable");
    let status = res.status();
    let ignored = res
        .headers()
        .get("x-atrium-ignored")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, res.json().await.unwrap_or(Value::Null), ignored)
}

async fn litellms_documented_key_requests_work_unchanged(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let master = token(&app, Scope::PlatformWrite, None).await;

    // docs.litellm.ai/docs/proxy/users: "Add budgets to teams".
    let (s, team, ignored) = lite(&app, &master, Method::POST, "/team/new", Some(json!({
        "team_alias": "my-new-team_4",
        "members_with_roles": [{"role": "admin", "user_id": "5c4a0aa3-a1e1-43dc-bd87-3c2da8382a3a"}],
        "rpm_limit": 99
    }))).await;
    assert_eq!(s, StatusCode::OK, "{team}");
    assert_eq!(team["team_alias"], "my-new-team_4");
    assert_eq!(team["rpm_limit"], 99);
    assert_eq!(ignored.as_deref(), Some("members_with_roles"));
    let team_id = team["team_id"].as_str().expect("team_id").to_string();

    // docs.litellm.ai/docs/proxy/virtual_keys: "Generate a Key", with the team.
    let (s, made, ignored) = lite(
        &app,
        &master,
        Method::POST,
        "/key/generate",
        Some(json!({
            "models": ["gpt-3.5-turbo", "gpt-4"],
            "max_budget": 10.0,
            "duration": "30d",
            "team_id": team_id,
            "key_alias": "my-app-prod",
            "metadata": {"environment": "production"}
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{made}");
    assert_eq!(
        ignored.as_deref(),
        Some("metadata, models"),
        "what is not applied is said"
    );
    assert_eq!(made["max_budget"], 10.0);
    assert_eq!(made["budget_duration"], "1mo");
    assert_eq!(made["team_id"], team_id.as_str());
    assert!(made["expires"].is_string());
    let key = made["key"].as_str().expect("key").to_string();

    // The key works on the gateway, and what it spent is in its logs.
    let (status, _) = complete(&app.base, &key, 1).await;
    assert_eq!(status, 200);
    app.running.gateway.ledger.flush().await;
    let (s, logs, _) = lite(
        &app,
        &master,
        Method::GET,
        &format!("/spend/logs?api_key={key}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{logs}");
    let logs = logs.as_array().expect("list");
    assert_eq!(logs.len(), 1);
    assert!(logs[0]["request_id"]
        .as_str()
        .is_some_and(|r| r.starts_with("req_")));
    assert!(logs[0]["spend"].as_f64().is_some_and(|s| s > 0.0));
    assert!(logs[0]["total_tokens"].as_i64().is_some_and(|t| t > 0));
    let (s, info, _) = lite(
        &app,
        &master,
        Method::GET,
        &format!("/key/info?key={key}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["info"]["key_alias"], "my-app-prod");
    assert_eq!(info["info"]["max_budget"], 10.0);
    assert_eq!(info["info"]["spend"], logs[0]["spend"]);

    // /key/delete as documented stops the key at once.
    let (s, gone, _) = lite(
        &app,
        &master,
        Method::POST,
        "/key/delete",
        Some(json!({"keys": [key]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(gone["deleted_keys"], json!([key]));
    assert_eq!(complete(&app.base, &key, 1).await.0, 401);
    let (_, info, _) = lite(
        &app,
        &master,
        Method::GET,
        &format!("/key/info?key={key}"),
        None,
    )
    .await;
    assert_eq!(info["info"]["blocked"], true);
    app
}

async fn litellm_calls_keep_tenant_scope_and_refuse_in_litellms_shape(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Lite A", 100, "any").await;
    let (b, b_key) = tenant_with_key(&app, "Lite B", 100, "any").await;
    let a_token = token(&app, Scope::TenantWrite, Some(&a)).await;
    let master = token(&app, Scope::PlatformWrite, None).await;

    // A tenant token's keys land in its own tenant, and never another's.
    let (s, made, _) = lite(
        &app,
        &a_token,
        Method::POST,
        "/key/generate",
        Some(json!({"key_alias": "ci"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{made}");
    assert_eq!(made["team_id"], a.as_str());
    let (s, err, _) = lite(
        &app,
        &a_token,
        Method::POST,
        "/key/generate",
        Some(json!({"team_id": b.to_string()})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["type"], "not_found_error");
    let (s, _, _) = lite(
        &app,
        &a_token,
        Method::GET,
        &format!("/key/info?key={b_key}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = lite(
        &app,
        &a_token,
        Method::POST,
        "/key/delete",
        Some(json!({"keys": [b_key]})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = lite(
        &app,
        &a_token,
        Method::POST,
        "/team/new",
        Some(json!({"team_alias": "mine now"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Errors come in LiteLLM's shape; a refused budget leaves no key behind.
    let (s, err, _) = lite(
        &app,
        &master,
        Method::POST,
        "/key/generate",
        Some(json!({"key_alias": "orphan"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["type"], "bad_request_error");
    assert_eq!(err["error"]["param"], "team_id");
    assert_eq!(err["error"]["code"], "400");
    let (s, _, _) = lite(
        &app,
        &master,
        Method::POST,
        "/key/generate",
        Some(json!({
            "team_id": a.to_string(), "key_alias": "too-small", "max_budget": 0.0
        })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_keys WHERE name = 'too-small' AND revoked_at IS NULL",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("count");
    assert_eq!(live, 0, "no key without the budget it was asked for");
    let (s, _, _) = lite(
        &app,
        &master,
        Method::POST,
        "/key/generate",
        Some(json!({
            "team_id": a.to_string(), "duration": "3 days"
        })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, err, _) = lite(
        &app,
        "sk-1234",
        Method::POST,
        "/key/generate",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["type"], "auth_error");
    app
}

//! Issue 23: the admin REST API on both backends. Every scope is tried on
//! every resource, authorized and refused; tenant-scoped tokens find other
//! tenants' objects not found; lists page by cursor, stable under inserts;
//! creates are idempotent; a stale If-Match is refused; every error is
//! problem+json; tokens are rate limited and revocable; changes are
//! audited under the token's id.

use atrium::domain::admin_token::{NewAdminToken, Scope};
use atrium::domain::tenant::TenantId;
use atrium::server::services::{admin_tokens, Actor};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::cli::atrium;
use crate::common::{plain_client, TestApp};
use crate::gateway::tenant_with_key;

on_both_backends!(
    every_scope_reaches_what_its_role_reaches_and_no_further,
    creates_are_idempotent_and_errors_are_problems,
    lists_page_by_cursor_stably_under_inserts,
    a_stale_if_match_is_refused,
    tokens_are_rate_limited_revocable_and_audited,
    users_are_managed_within_reach,
);

pub(crate) async fn token(app: &TestApp, scope: Scope, tenant: Option<&TenantId>) -> String {
    let new = NewAdminToken {
        name: format!("test {scope}"),
        scope,
        tenant: tenant.map(|t| t.to_string()),
        expires_in_days: None,
        rate_per_minute: Some(10_000),
    };
    admin_tokens::create(&app.svc, &Actor::system("test"), new)
        .await
        .expect("admin token")
        .token
}

pub(crate) async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let res = send(app, token, method, path, body, &[]).await;
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Response {
    let mut req = plain_client()
        .request(method, app.url(&format!("/admin/v1{path}")))
        .bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("admin API reachable")
}

fn kind(problem: &Value) -> &str {
    problem["type"].as_str().unwrap_or("")
}

async fn every_scope_reaches_what_its_role_reaches_and_no_further(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Scope A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Scope B", 100, "any").await;
    let p_write = token(&app, Scope::PlatformWrite, None).await;
    let p_read = token(&app, Scope::PlatformRead, None).await;
    let t_write = token(&app, Scope::TenantWrite, Some(&a)).await;
    let t_read = token(&app, Scope::TenantRead, Some(&a)).await;
    let (_, b_keys) = call(
        &app,
        &p_write,
        Method::GET,
        &format!("/tenants/{b}/api-keys"),
        None,
    )
    .await;
    let b_key = b_keys["data"][0]["id"]
        .as_str()
        .expect("B's key")
        .to_string();

    // Platform write: everything.
    let (s, t) = call(
        &app,
        &p_write,
        Method::POST,
        "/tenants",
        Some(json!({"name": "Made By Token"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, _) = call(
        &app,
        &p_write,
        Method::PUT,
        &format!("/tenants/{a}/budgets"),
        Some(json!({"limit_micros": 5_000_000, "period": "Month", "enforcement": "Hard"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Platform read: every tenant's reads, no writes.
    let (s, all) = call(&app, &p_read, Method::GET, "/tenants?limit=200", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(all["data"].as_array().expect("data").len() >= 3);
    let (s, _) = call(
        &app,
        &p_read,
        Method::GET,
        &format!("/tenants/{b}/api-keys"),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "key lists need manage rights, as in the portal"
    );
    let (s, _) = call(
        &app,
        &p_read,
        Method::GET,
        &format!("/tenants/{b}/budgets"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(&app, &p_read, Method::GET, "/admin-tokens", None).await;
    assert_eq!(s, StatusCode::OK);
    for (method, path, body) in [
        (
            Method::POST,
            "/tenants".to_string(),
            json!({"name": "Nope"}),
        ),
        (Method::POST, format!("/tenants/{a}/suspend"), json!({})),
        (
            Method::POST,
            "/admin-tokens".to_string(),
            json!({"name": "x", "scope": "platform:write"}),
        ),
    ] {
        let (s, p) = call(&app, &p_read, method, &path, Some(body)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {p}");
        assert_eq!(kind(&p), "urn:atrium:problem:forbidden");
    }

    // Tenant write: its own tenant's keys; another tenant's objects do not exist.
    let (s, own) = call(&app, &t_write, Method::GET, "/tenants", None).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = own["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, vec![a.as_str()]);
    let (s, k) = call(
        &app,
        &t_write,
        Method::POST,
        &format!("/tenants/{a}/api-keys"),
        Some(json!({"name": "ci"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    assert!(k["key"].as_str().is_some_and(|k| k.starts_with("atr_")));
    for (method, path) in [
        (Method::GET, format!("/tenants/{b}")),
        (Method::GET, format!("/tenants/{b}/api-keys")),
        (Method::GET, format!("/tenants/{b}/budgets")),
        (Method::GET, format!("/api-keys/{b_key}")),
        (Method::DELETE, format!("/api-keys/{b_key}")),
        (Method::POST, format!("/api-keys/{b_key}/rotate")),
        (
            Method::GET,
            "/tenants/00000000-0000-0000-0000-000000000000".to_string(),
        ),
    ] {
        let (s, p) = call(&app, &t_write, method, &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {p}");
        assert_eq!(kind(&p), "urn:atrium:problem:not-found");
    }
    for (method, path) in [
        (Method::POST, format!("/tenants/{a}/suspend")),
        (Method::PUT, format!("/tenants/{a}/budgets")),
        (Method::GET, "/admin-tokens".to_string()),
        (Method::POST, "/tenants".to_string()),
    ] {
        let (s, _) = call(
            &app,
            &t_write,
            method,
            &path,
            Some(json!({"name": "x", "limit_micros": 1, "period": "Month", "enforcement": "Hard"})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }

    // Tenant read: reads its own tenant, changes nothing.
    let (s, _) = call(&app, &t_read, Method::GET, &format!("/tenants/{a}"), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        &t_read,
        Method::GET,
        &format!("/tenants/{a}/budgets"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        &t_read,
        Method::POST,
        &format!("/tenants/{a}/api-keys"),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&app, &t_read, Method::GET, &format!("/tenants/{b}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Audit verification: every chain for platform readers, one's own for
    // a tenant's admins, nothing for viewers or across tenants.
    let (s, v) = call(&app, &p_read, Method::GET, "/audit/verify", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["chains"].as_array().expect("chains").len() >= 3);
    let (s, v) = call(
        &app,
        &t_write,
        Method::GET,
        &format!("/audit/verify?tenant={a}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["chains"][0]["chain"], a.as_str());
    let (s, _) = call(&app, &t_write, Method::GET, "/audit/verify", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        &app,
        &t_write,
        Method::GET,
        &format!("/audit/verify?tenant={b}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        &t_read,
        Method::GET,
        &format!("/audit/verify?tenant={a}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Rotation: a new secret, the old key revoked.
    let own_key = k["api_key"]["id"].as_str().expect("id");
    let (s, rotated) = call(
        &app,
        &t_write,
        Method::POST,
        &format!("/api-keys/{own_key}/rotate"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{rotated}");
    let (_, old) = call(
        &app,
        &t_write,
        Method::GET,
        &format!("/api-keys/{own_key}"),
        None,
    )
    .await;
    assert!(old["revoked_at"].is_i64());
    app
}

async fn creates_are_idempotent_and_errors_are_problems(app: TestApp) -> TestApp {
    let t = token(&app, Scope::PlatformWrite, None).await;
    let body = json!({"name": "Idem Co", "data_location": "eu-west"});
    let once = [("Idempotency-Key", "onboard-42")];
    let first = send(
        &app,
        &t,
        Method::POST,
        "/tenants",
        Some(body.clone()),
        &once,
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = send(&app, &t, Method::POST, "/tenants", Some(body), &once).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let again: Value = again.json().await.expect("json");
    assert_eq!(
        again["id"], first["id"],
        "a retry returns the first tenant, not a second"
    );
    let other = send(
        &app,
        &t,
        Method::POST,
        "/tenants",
        Some(json!({"name": "Other Co"})),
        &once,
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Problems: unauthenticated, malformed, invalid fields, unknown paths.
    let res = send(&app, "atr_adm_nope", Method::GET, "/tenants", None, &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: Value = res.json().await.expect("problem");
    assert_eq!(kind(&p), "urn:atrium:problem:unauthenticated");
    assert_eq!(p["status"], 401);
    let (s, p) = call(
        &app,
        &t,
        Method::POST,
        "/tenants",
        Some(json!({"name": "!"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(kind(&p), "urn:atrium:problem:invalid");
    assert!(
        p["errors"]["name"][0]
            .as_str()
            .is_some_and(|m| m.contains("2 to 64")),
        "{p}"
    );
    let (s, p) = call(&app, &t, Method::POST, "/tenants", Some(json!({"nom": 1}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(p["errors"]["body"].is_array(), "{p}");
    let (s, p) = call(&app, &t, Method::GET, "/tenants?limit=500", None).await;
    assert_eq!(
        (s, kind(&p)),
        (StatusCode::BAD_REQUEST, "urn:atrium:problem:invalid")
    );
    let (s, p) = call(&app, &t, Method::GET, "/tenants?limit=-1", None).await;
    assert_eq!(
        (s, kind(&p)),
        (StatusCode::BAD_REQUEST, "urn:atrium:problem:invalid"),
        "{p}"
    );
    let (s, p) = call(&app, &t, Method::GET, "/tenants?cursor=forged", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let (s, p) = call(&app, &t, Method::GET, "/api-keys/%00", None).await;
    assert_eq!(
        (s, kind(&p)),
        (StatusCode::BAD_REQUEST, "urn:atrium:problem:invalid"),
        "{p}"
    );
    let (s, _) = call(
        &app,
        &t,
        Method::POST,
        "/admin-tokens",
        Some(json!({"name": "child", "scope": "platform:write"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a token cannot mint tokens that outlive its revocation"
    );
    let (s, p) = call(&app, &t, Method::GET, "/no-such-thing", None).await;
    assert_eq!(
        (s, kind(&p)),
        (StatusCode::NOT_FOUND, "urn:atrium:problem:not-found")
    );
    let (s, p) = call(
        &app,
        &t,
        Method::POST,
        "/tenants",
        Some(json!({"name": "Idem Co"})),
    )
    .await;
    assert_eq!(
        (s, kind(&p)),
        (StatusCode::CONFLICT, "urn:atrium:problem:conflict")
    );
    app
}

async fn lists_page_by_cursor_stably_under_inserts(app: TestApp) -> TestApp {
    let t = token(&app, Scope::PlatformWrite, None).await;
    for i in 0..7 {
        let (s, _) = call(
            &app,
            &t,
            Method::POST,
            "/tenants",
            Some(json!({"name": format!("Paged {i}")})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/tenants?limit=3&search=paged".to_string();
    let mut pages = 0;
    loop {
        let (s, page) = call(&app, &t, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        pages += 1;
        if pages == 1 {
            // A tenant created mid-walk lands after the cursor, not in
            // a page already read, so nothing shifts or repeats.
            call(
                &app,
                &t,
                Method::POST,
                "/tenants",
                Some(json!({"name": "Paged late"})),
            )
            .await;
        }
        for row in page["data"].as_array().expect("data") {
            seen.push(row["name"].as_str().expect("name").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/tenants?limit=3&search=paged&cursor={c}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no tenant twice: {seen:?}");
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("Paged late"));
    assert_eq!(pages, 3);
    app
}

async fn a_stale_if_match_is_refused(app: TestApp) -> TestApp {
    let t = token(&app, Scope::PlatformWrite, None).await;
    let (_, made) = call(
        &app,
        &t,
        Method::POST,
        "/tenants",
        Some(json!({"name": "Revised"})),
    )
    .await;
    let id = made["id"].as_str().expect("id");
    let read = send(&app, &t, Method::GET, &format!("/tenants/{id}"), None, &[]).await;
    let etag = read.headers()["etag"].to_str().expect("etag").to_string();
    let first = send(
        &app,
        &t,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"rpm_limit": 77})),
        &[("If-Match", &etag)],
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_ne!(first.headers()["etag"].to_str().expect("etag"), etag);
    // A second operator, holding the same old read, is told so.
    let second = send(
        &app,
        &t,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"rpm_limit": 5})),
        &[("If-Match", &etag)],
    )
    .await;
    assert_eq!(second.status(), StatusCode::PRECONDITION_FAILED);
    let p: Value = second.json().await.expect("problem");
    assert_eq!(kind(&p), "urn:atrium:problem:precondition-failed");
    let (_, now) = call(&app, &t, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(now["rpm_limit"], 77, "the stale write changed nothing");
    let current = send(&app, &t, Method::GET, &format!("/tenants/{id}"), None, &[]).await;
    let strong = current.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let weak = send(
        &app,
        &t,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"rpm_limit": 6})),
        &[("If-Match", &format!("W/{strong}"))],
    )
    .await;
    assert_eq!(
        weak.status(),
        StatusCode::PRECONDITION_FAILED,
        "If-Match compares strongly"
    );
    let listed = send(
        &app,
        &t,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"rpm_limit": 7})),
        &[("If-Match", &format!("\"999\", {strong}"))],
    )
    .await;
    assert_eq!(
        listed.status(),
        StatusCode::OK,
        "a list of tags matches any of them"
    );
    let unknown = send(
        &app,
        &t,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"colour": "red"})),
        &[],
    )
    .await;
    assert_eq!(
        unknown.status(),
        StatusCode::BAD_REQUEST,
        "unknown fields are refused, not ignored"
    );
    app
}

async fn tokens_are_rate_limited_revocable_and_audited(app: TestApp) -> TestApp {
    let out = atrium(
        &app,
        &[
            "admin-token",
            "create",
            "--scope",
            "platform:write",
            "--rate-per-minute",
            "3",
            "--name",
            "slow",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).expect("json");
    let secret = made["token"]
        .as_str()
        .expect("token shown once")
        .to_string();
    let id = made["id"].as_str().expect("id").to_string();
    for _ in 0..3 {
        let (s, _) = call(&app, &secret, Method::GET, "/tenants", None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let res = send(&app, &secret, Method::GET, "/tenants", None, &[]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));

    let fast = token(&app, Scope::PlatformWrite, None).await;
    let (s, t) = call(
        &app,
        &fast,
        Method::POST,
        "/tenants",
        Some(json!({"name": "Audited Co"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let fast_id = &fast["atr_adm_".len().."atr_adm_".len() + 16];
    let actors: Vec<(String, String)> =
        sqlx::query_as("SELECT action, actor FROM audit_events WHERE resource_id = $1")
            .bind(t["id"].as_str().expect("id"))
            .fetch_all(&app.svc.db.pool)
            .await
            .expect("audit");
    assert!(
        actors.contains(&("tenant.create".into(), format!("token:{fast_id}"))),
        "{actors:?}"
    );

    let out = atrium(&app, &["admin-token", "revoke", &id], None);
    assert!(out.status.success());
    let (s, _) = call(&app, &secret, Method::GET, "/tenants", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let out = atrium(&app, &["admin-token", "list", "--json"], None);
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    let listed = list
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("listed");
    assert!(listed["revoked_at"].is_i64());
    assert!(listed.get("token").is_none(), "the secret is never listed");
    let acts = app.audit_actions().await;
    assert!(acts.iter().any(|(a, _)| a == "admin_token.create"));
    assert!(acts.iter().any(|(a, _)| a == "admin_token.revoke"));
    app
}

async fn users_are_managed_within_reach(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Users A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Users B", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let new = |email: &str, tenant: &TenantId| {
        json!({"email": email, "password": "a-long-password-1", "role": "tenant_viewer",
               "tenant_id": tenant.to_string()})
    };
    let (s, b_user) = call(
        &app,
        &admin,
        Method::POST,
        "/users",
        Some(new("bee@b.io", &b)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b_user}");
    let b_id = b_user["id"].as_str().expect("id");
    let (s, mine) = call(
        &app,
        &a_admin,
        Method::POST,
        "/users",
        Some(new("ann@a.io", &a)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    let (s, _) = call(
        &app,
        &a_admin,
        Method::POST,
        "/users",
        Some(new("spy@b.io", &b)),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another tenant is not there to add users to"
    );
    let (s, p) = call(&app, &a_admin, Method::POST, "/users",
        Some(json!({"email": "boss@a.io", "password": "a-long-password-1", "role": "platform_admin"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    let (s, p) = call(
        &app,
        &admin,
        Method::POST,
        "/users",
        Some(
            json!({"email": "v@p.io", "password": "a-long-password-1", "role": "platform_viewer"}),
        ),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "platform viewers are tokens, not people: {p}"
    );

    // A platform admin's suspension stands: disabling again as the tenant's
    // admin does not make it theirs to lift.
    let ann = mine["id"].as_str().expect("id");
    let (s, _) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/users/{ann}/disable"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        &a_admin,
        Method::POST,
        &format!("/users/{ann}/disable"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = call(
        &app,
        &a_admin,
        Method::POST,
        &format!("/users/{ann}/enable"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");

    let (_, listed) = call(&app, &a_admin, Method::GET, "/users", None).await;
    let emails: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(emails, vec!["ann@a.io"]);
    for (method, path) in [
        (Method::GET, format!("/users/{b_id}")),
        (Method::POST, format!("/users/{b_id}/disable")),
        (Method::DELETE, format!("/users/{b_id}")),
    ] {
        let (s, _) = call(&app, &a_admin, method, &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, left) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/users/{b_id}/leave"),
        Some(json!({"left_at": "2026-01-02T03:04:05Z"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{left}");
    assert_eq!(left["disabled"], true);
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'user.disable' AND resource_id = $1",
    )
    .bind(b_id)
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("audit");
    assert!(
        details.iter().any(|d| d.contains("left_at")),
        "the leaving date is audited: {details:?}"
    );
    let (s, _) = call(
        &app,
        &admin,
        Method::DELETE,
        &format!("/users/{b_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(&app, &admin, Method::GET, &format!("/users/{b_id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app
}

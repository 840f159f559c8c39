//! The portal over HTTP: sign-in, tenants, keys, users, roles and the audit
//! trail, on SQLite and PostgreSQL.

use crate::common;
use atrium::domain::tenant::TenantId;

use std::time::{Duration, Instant};

use atrium::server::services::api_keys::{self, AuthError};
use atrium::server::services::{tenants, Actor};
use common::{client, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use serde_json::Value;

on_both_backends!(
    health_and_readiness,
    sign_in_and_out,
    sign_in_is_throttled,
    tenant_lifecycle,
    tenant_paging_and_search,
    api_key_lifecycle,
    roles_are_enforced_by_the_service_layer,
    cross_origin_mutations_are_refused,
    changes_from_another_process_reach_the_cache,
    users_can_be_disabled_and_reset,
    forms_posted_without_javascript_flash_their_outcome,
    audit_rows_name_what_they_refer_to,
);

pub(crate) fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

pub(crate) async fn create_tenant(app: &TestApp, c: &reqwest::Client, name: &str) -> Value {
    let (status, body) = app
        .call(
            c,
            "create_tenant",
            &[
                ("name", name),
                ("isolation", "row_level"),
                ("data_location", "eu-west"),
                ("rpm_limit", "60"),
                ("tpm_limit", "10000"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn create_user(
    app: &TestApp,
    c: &reqwest::Client,
    email: &str,
    role: &str,
    tenant: &str,
) {
    let (status, body) = app
        .call(
            c,
            "create_user",
            &[
                ("email", email),
                ("password", "a-long-password-1"),
                ("role", role),
                ("tenant_id", tenant),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn health_and_readiness(app: TestApp) -> TestApp {
    let c = client();
    let r = c.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(r.status().as_u16(), 200);
    let r = c.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers().contains_key("x-request-id"),
        "responses carry a request id"
    );
    app
}

async fn sign_in_and_out(app: TestApp) -> TestApp {
    let c = client();
    // Not signed in: pages redirect to the login page, server functions answer 401.
    let r = c
        .get(app.url("/tenants"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/login");
    assert_eq!(
        app.call(&c, "list_tenants", &[("q", ""), ("page", "1")])
            .await
            .0,
        401
    );

    assert_eq!(
        app.sign_in(&c, ADMIN_EMAIL, "wrong-password-123").await,
        "/login?error=invalid"
    );
    assert_eq!(
        app.sign_in(&c, "nobody@x.io", "wrong-password-123").await,
        "/login?error=invalid"
    );
    let r = c
        .post(app.url("/auth/sign-in"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("sign in");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let token = cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|p| p.1)
        .unwrap_or("");
    assert_eq!(token.len(), 64);

    // Only the hash of the token is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("sessions");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);

    let page = c.get(app.url("/tenants")).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("<title>Tenants · Atrium</title>"),
        "title names the page"
    );

    let r = c
        .post(app.url("/auth/sign-out"))
        .send()
        .await
        .expect("sign out");
    assert_eq!(r.headers()["location"], "/login");
    assert_eq!(
        app.call(&c, "list_tenants", &[("q", ""), ("page", "1")])
            .await
            .0,
        401
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "sign-out deletes the session");

    let actions = app.audit_actions().await;
    let failures = actions
        .iter()
        .filter(|(a, s)| a == "auth.sign_in" && s == "failure")
        .count();
    assert_eq!(failures, 2, "{actions:?}");
    assert!(actions.contains(&("auth.sign_in".into(), "success".into())));
    assert!(actions.contains(&("auth.sign_out".into(), "success".into())));
    let details: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events")
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("details");
    assert!(
        details.iter().all(|d| !d.contains("wrong-password")),
        "no secrets in the audit trail"
    );
    app
}

async fn sign_in_is_throttled(app: TestApp) -> TestApp {
    let c = client();
    for _ in 0..5 {
        assert_eq!(
            app.sign_in(&c, ADMIN_EMAIL, "wrong-password-123").await,
            "/login?error=invalid"
        );
    }
    // Even the right password is refused while the account is throttled.
    assert_eq!(
        app.sign_in(&c, ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "/login?error=throttled"
    );
    let denied: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'auth.sign_in' AND status = 'denied'",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("count");
    assert_eq!(denied, 1);
    app
}

async fn tenant_lifecycle(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Acme Corp").await;
    let id = s(&t, "id");
    assert_eq!(s(&t, "status"), "active");
    assert_eq!(t["rpm_limit"], 60);

    // Names are unique regardless of case; bad input gets a 400 with the field named.
    let (status, body) = app
        .call(
            &c,
            "create_tenant",
            &[
                ("name", "ACME CORP"),
                ("isolation", "row_level"),
                ("data_location", "eu-west"),
                ("rpm_limit", "60"),
                ("tpm_limit", "100"),
            ],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("already exists"), "{body}");
    let (status, body) = app
        .call(
            &c,
            "create_tenant",
            &[
                ("name", "Beta"),
                ("isolation", "row_level"),
                ("data_location", "eu-west"),
                ("rpm_limit", "lots"),
                ("tpm_limit", "100"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body.to_string()
            .contains("rpm_limit: must be a whole number"),
        "{body}"
    );
    let (status, _) = app
        .call(
            &c,
            "create_tenant",
            &[
                ("name", "Beta"),
                ("isolation", "none"),
                ("data_location", "eu-west"),
                ("rpm_limit", "1"),
                ("tpm_limit", "100"),
            ],
        )
        .await;
    assert_eq!(status, 400);

    let (status, u) = app
        .call(
            &c,
            "update_tenant",
            &[
                ("id", &id),
                ("name", "Acme Inc"),
                ("data_location", "us-east"),
                ("rpm_limit", "120"),
                ("tpm_limit", "5000"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(
        (
            s(&u, "name").as_str(),
            s(&u, "data_location").as_str(),
            u["rpm_limit"].as_i64()
        ),
        ("Acme Inc", "us-east", Some(120))
    );

    let (_, u) = app
        .call(
            &c,
            "set_tenant_status",
            &[("id", &id), ("status", "suspended")],
        )
        .await;
    assert_eq!(s(&u, "status"), "suspended");
    let (_, u) = app
        .call(
            &c,
            "set_tenant_status",
            &[("id", &id), ("status", "active")],
        )
        .await;
    assert_eq!(s(&u, "status"), "active");

    let (status, body) = app
        .call(
            &c,
            "delete_tenant",
            &[("id", &id), ("confirm_name", "acme")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body.to_string().contains("Acme Inc"),
        "the message says what to type: {body}"
    );
    let (status, _) = app
        .call(
            &c,
            "delete_tenant",
            &[("id", &id), ("confirm_name", "Acme Inc")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.call(&c, "get_tenant", &[("id", &id)]).await.0, 404);

    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in [
        "tenant.create",
        "tenant.update",
        "tenant.suspend",
        "tenant.resume",
        "tenant.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} audited: {actions:?}"
        );
    }
    app
}

async fn tenant_paging_and_search(app: TestApp) -> TestApp {
    let c = app.admin().await;
    for i in 0..30 {
        create_tenant(&app, &c, &format!("Org {i:02}")).await;
    }
    create_tenant(&app, &c, "Zeta_Labs").await;
    let (_, p1) = app
        .call(&c, "list_tenants", &[("q", ""), ("page", "1")])
        .await;
    assert_eq!(p1["total"], 31);
    assert_eq!(p1["items"].as_array().map(Vec::len), Some(25));
    let (_, p2) = app
        .call(&c, "list_tenants", &[("q", ""), ("page", "2")])
        .await;
    assert_eq!(p2["items"].as_array().map(Vec::len), Some(6));
    let (_, found) = app
        .call(&c, "list_tenants", &[("q", "org 1"), ("page", "1")])
        .await;
    assert_eq!(found["total"], 10, "case-insensitive substring search");
    // LIKE wildcards in the search are literal characters.
    let (_, found) = app
        .call(&c, "list_tenants", &[("q", "a_l"), ("page", "1")])
        .await;
    assert_eq!(found["total"], 1);
    let (_, none) = app
        .call(&c, "list_tenants", &[("q", "%"), ("page", "1")])
        .await;
    assert_eq!(none["total"], 0);
    // The page renders on the server with the query applied.
    let html = c
        .get(app.url("/tenants?q=org+2&page=1"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Org 21") && !html.contains("Org 11"));
    app
}

async fn api_key_lifecycle(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Keyholders").await;
    let tid = s(&t, "id");
    let (status, created) = app
        .call(
            &c,
            "create_key",
            &[
                ("tenant_id", &tid),
                ("name", "prod"),
                ("expires_in_days", ""),
            ],
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let key = s(&created, "key");
    assert!(
        key.starts_with("atr_") && key.len() == 4 + 12 + 1 + 48,
        "{key}"
    );

    // Neither the key nor anything but its hash is stored; lists never carry it.
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key_hash, prefix FROM api_keys")
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, atrium::server::crypto::token::hash_token(&key));
    assert!(key.starts_with(&rows[0].1));
    let (_, listed) = app.call(&c, "list_keys", &[("tenant_id", &tid)]).await;
    assert!(
        !listed.to_string().contains(&key[17..]),
        "list never shows the secret"
    );

    let auth = api_keys::authenticate(&app.svc, &key)
        .await
        .expect("valid key");
    assert_eq!(auth.tenant.id, tid);
    assert_eq!(
        api_keys::authenticate(&app.svc, "atr_nope").await.err(),
        Some(AuthError::Invalid)
    );
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('0') { '1' } else { '0' }
    );
    assert_eq!(
        api_keys::authenticate(&app.svc, &forged).await.err(),
        Some(AuthError::Invalid)
    );

    // Suspending the tenant stops its keys at once; resuming restores them.
    app.call(
        &c,
        "set_tenant_status",
        &[("id", &tid), ("status", "suspended")],
    )
    .await;
    assert_eq!(
        api_keys::authenticate(&app.svc, &key).await.err(),
        Some(AuthError::TenantSuspended)
    );
    app.call(
        &c,
        "set_tenant_status",
        &[("id", &tid), ("status", "active")],
    )
    .await;
    assert!(api_keys::authenticate(&app.svc, &key).await.is_ok());

    let kid = s(&created["api_key"], "id");
    let (status, revoked) = app.call(&c, "revoke_key", &[("id", &kid)]).await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_i64());
    assert_eq!(
        api_keys::authenticate(&app.svc, &key).await.err(),
        Some(AuthError::Revoked)
    );

    // Expiry is enforced, and bad expiry input is refused.
    let (_, short) = app
        .call(
            &c,
            "create_key",
            &[
                ("tenant_id", &tid),
                ("name", "short"),
                ("expires_in_days", "1"),
            ],
        )
        .await;
    let short_key = s(&short, "key");
    assert!(api_keys::authenticate(&app.svc, &short_key).await.is_ok());
    sqlx::query("UPDATE api_keys SET expires_at = 1 WHERE name = 'short'")
        .execute(&app.svc.db.pool)
        .await
        .expect("expire");
    // A write behind the services' back: revalidating the cache sees it.
    api_keys::refresh(&app.svc).await.expect("refresh");
    assert_eq!(
        api_keys::authenticate(&app.svc, &short_key).await.err(),
        Some(AuthError::Expired)
    );
    let (status, _) = app
        .call(
            &c,
            "create_key",
            &[("tenant_id", &tid), ("name", "x"), ("expires_in_days", "0")],
        )
        .await;
    assert_eq!(status, 400);

    // Last use is recorded without a write per request.
    let (_, fresh) = app
        .call(
            &c,
            "create_key",
            &[
                ("tenant_id", &tid),
                ("name", "used"),
                ("expires_in_days", ""),
            ],
        )
        .await;
    api_keys::authenticate(&app.svc, &s(&fresh, "key"))
        .await
        .expect("valid");
    let (_, listed) = app.call(&c, "list_keys", &[("tenant_id", &tid)]).await;
    let used = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["name"] == "used")
        .cloned();
    assert!(used.is_some_and(|k| k["last_used_at"].is_i64()));
    app
}

async fn roles_are_enforced_by_the_service_layer(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let a = s(&create_tenant(&app, &admin, "Tenant A").await, "id");
    let b = s(&create_tenant(&app, &admin, "Tenant B").await, "id");
    create_user(&app, &admin, "viewer@a.io", "tenant_viewer", &a).await;
    create_user(&app, &admin, "owner@a.io", "tenant_admin", &a).await;

    let viewer = client();
    assert_eq!(
        app.sign_in(&viewer, "viewer@a.io", "a-long-password-1")
            .await,
        "/"
    );
    assert_eq!(
        app.call(&viewer, "list_tenants", &[("q", ""), ("page", "1")])
            .await
            .0,
        403
    );
    assert_eq!(app.call(&viewer, "get_tenant", &[("id", &a)]).await.0, 200);
    assert_eq!(app.call(&viewer, "get_tenant", &[("id", &b)]).await.0, 404);
    assert_eq!(
        app.call(&viewer, "list_keys", &[("tenant_id", &a)]).await.0,
        403
    );
    assert_eq!(
        app.call(
            &viewer,
            "create_key",
            &[("tenant_id", &a), ("name", "x"), ("expires_in_days", "")]
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.call(&viewer, "list_users", &[("page", "1")]).await.0,
        403
    );
    // As a browser asks for it: a page load is not a plain form post.
    let page = viewer
        .get(app.url("/tenants"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("page");
    assert_eq!(
        page.status().as_u16(),
        403,
        "the tenants page itself answers 403"
    );

    let owner = client();
    assert_eq!(
        app.sign_in(&owner, "owner@a.io", "a-long-password-1").await,
        "/"
    );
    assert_eq!(
        app.call(
            &owner,
            "create_key",
            &[("tenant_id", &a), ("name", "mine"), ("expires_in_days", "")]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.call(
            &owner,
            "create_key",
            &[
                ("tenant_id", &b),
                ("name", "theirs"),
                ("expires_in_days", "")
            ]
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.call(
            &owner,
            "set_tenant_status",
            &[("id", &a), ("status", "suspended")]
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.call(
            &owner,
            "delete_tenant",
            &[("id", &a), ("confirm_name", "Tenant A")]
        )
        .await
        .0,
        403
    );
    // Tenant admins manage their own tenant's users, never platform admins.
    let (_, users) = app.call(&owner, "list_users", &[("page", "1")]).await;
    assert_eq!(users["total"], 2, "{users}");
    assert_eq!(
        app.call(
            &owner,
            "create_user",
            &[
                ("email", "boss@a.io"),
                ("password", "a-long-password-1"),
                ("role", "platform_admin"),
                ("tenant_id", "")
            ]
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.call(
            &owner,
            "create_user",
            &[
                ("email", "spy@b.io"),
                ("password", "a-long-password-1"),
                ("role", "tenant_viewer"),
                ("tenant_id", &b)
            ]
        )
        .await
        .0,
        404
    );

    // The same rules hold when a service is called directly, whatever the adapter.
    let outsider = Actor {
        user_id: None,
        label: "x".into(),
        role: atrium::domain::role::Role::TenantAdmin,
        tenant_id: Some(TenantId::parse(&b).expect("id")),
        client_ip: None,
    };
    assert!(
        tenants::get(&app.svc, &outsider, &TenantId::parse(&a).expect("id"))
            .await
            .is_err()
    );
    app
}

async fn cross_origin_mutations_are_refused(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let r = c
        .post(app.url("/api/create_tenant"))
        .header("origin", "https://evil.example")
        .form(&[
            ("name", "Evil"),
            ("isolation", "row_level"),
            ("data_location", "eu"),
            ("rpm_limit", "1"),
            ("tpm_limit", "1"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(app.url("/auth/sign-out"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 403);
    let host = app.base.trim_start_matches("http://").to_string();
    let r = c
        .post(app.url("/api/create_tenant"))
        .header("origin", format!("http://{host}"))
        .header("accept", "application/json")
        .form(&[
            ("name", "Friendly"),
            ("isolation", "row_level"),
            ("data_location", "eu"),
            ("rpm_limit", "1"),
            ("tpm_limit", "1"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
    app
}

async fn changes_from_another_process_reach_the_cache(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let tid = s(&create_tenant(&app, &c, "Replicated").await, "id");
    let (_, created) = app
        .call(
            &c,
            "create_key",
            &[("tenant_id", &tid), ("name", "r"), ("expires_in_days", "")],
        )
        .await;
    let key = s(&created, "key");
    api_keys::authenticate(&app.svc, &key)
        .await
        .expect("warm the cache");

    // Another process (the CLI, another replica) with its own pool and caches.
    let dir = tempfile::tempdir().expect("dir");
    let other = atrium::server::runtime::open(common::config(&app.db_url, dir.path()))
        .await
        .expect("second process");
    api_keys::revoke(&other, &Actor::system("cli"), &s(&created["api_key"], "id"))
        .await
        .expect("revoke");
    let started = Instant::now();
    while api_keys::authenticate(&app.svc, &key).await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "revocation seen within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.db.close().await;
    app
}

async fn users_can_be_disabled_and_reset(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let tid = s(&create_tenant(&app, &admin, "People").await, "id");
    create_user(&app, &admin, "Pat@People.io", "tenant_admin", &tid).await;
    let (status, _) = app
        .call(
            &admin,
            "create_user",
            &[
                ("email", "pat@people.io"),
                ("password", "a-long-password-1"),
                ("role", "tenant_admin"),
                ("tenant_id", &tid),
            ],
        )
        .await;
    assert_eq!(status, 409, "emails are unique regardless of case");
    let (status, body) = app
        .call(
            &admin,
            "create_user",
            &[
                ("email", "short@people.io"),
                ("password", "short"),
                ("role", "tenant_admin"),
                ("tenant_id", &tid),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("at least 12"), "{body}");
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'pat@people.io'")
            .fetch_one(&app.svc.db.pool)
            .await
            .expect("hash");
    assert!(stored.starts_with("$argon2id$"));

    let pat = client();
    assert_eq!(
        app.sign_in(&pat, "pat@people.io", "a-long-password-1")
            .await,
        "/"
    );
    let (_, users) = app.call(&admin, "list_users", &[("page", "1")]).await;
    let id = users["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["email"] == "pat@people.io")
        .map(|u| s(u, "id"))
        .unwrap_or_default();

    let (status, u) = app
        .call(
            &admin,
            "set_user_disabled",
            &[("id", &id), ("disabled", "true")],
        )
        .await;
    assert_eq!((status, u["disabled"].as_bool()), (200, Some(true)));
    assert_eq!(
        app.call(&pat, "get_tenant", &[("id", &tid)]).await.0,
        401,
        "sessions end at once"
    );
    assert_eq!(
        app.sign_in(&pat, "pat@people.io", "a-long-password-1")
            .await,
        "/login?error=invalid"
    );
    app.call(
        &admin,
        "set_user_disabled",
        &[("id", &id), ("disabled", "false")],
    )
    .await;

    let (status, _) = app
        .call(
            &admin,
            "reset_user_password",
            &[("id", &id), ("password", "another-long-password")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.sign_in(&pat, "pat@people.io", "a-long-password-1")
            .await,
        "/login?error=invalid"
    );
    assert_eq!(
        app.sign_in(&pat, "pat@people.io", "another-long-password")
            .await,
        "/"
    );

    // Nobody disables themselves.
    let (_, users) = app.call(&admin, "list_users", &[("page", "1")]).await;
    let me = users["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["email"] == ADMIN_EMAIL)
        .map(|u| s(u, "id"))
        .unwrap_or_default();
    assert_eq!(
        app.call(
            &admin,
            "set_user_disabled",
            &[("id", &me), ("disabled", "true")]
        )
        .await
        .0,
        400
    );
    app
}

/// A form posted before the wasm loads: the browser is sent back to the
/// page, which shows the outcome once (the new key, or what was wrong).
async fn forms_posted_without_javascript_flash_their_outcome(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Plain Forms").await;
    let page = app.url(&format!("/tenants/{}", s(&t, "id")));
    let plain_post = |endpoint: &str, form: Vec<(&'static str, String)>| {
        c.post(app.url(&format!("/api/{endpoint}")))
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", &page)
            .form(&form)
            .send()
    };
    let res = plain_post(
        "create_key",
        vec![
            ("tenant_id", s(&t, "id")),
            ("name", "no-js".into()),
            ("expires_in_days", "".into()),
        ],
    )
    .await
    .expect("post");
    assert_eq!(res.status().as_u16(), 302);
    let back = res.headers()["location"].to_str().unwrap_or_default();
    assert!(back.starts_with(&page), "back to the page: {back}");
    let html = c
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let key = html
        .split("data-testid=\"new-key\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("the new key is on the page: {html}"))
        .to_string();
    assert!(key.starts_with("atr_"), "{key}");
    assert!(api_keys::authenticate(&app.svc, &key).await.is_ok());
    let again = c
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(!again.contains(&key), "the key is shown once");

    let res = plain_post(
        "create_key",
        vec![
            ("tenant_id", s(&t, "id")),
            ("name", "bad".into()),
            ("expires_in_days", "soon".into()),
        ],
    )
    .await
    .expect("post");
    assert_eq!(
        res.status().as_u16(),
        302,
        "an error also returns to the page"
    );
    let html = c
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("expires_in_days: must be a whole number"),
        "{html}"
    );

    // Another session sees nothing of it.
    let other = app.admin().await;
    let html = other
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(!html.contains("data-testid=\"flash\""));
    app
}

/// The audit table names tenants, keys and users, linked to their pages.
async fn audit_rows_name_what_they_refer_to(app: TestApp) -> TestApp {
    use atrium::domain::audit::AuditQuery;
    use atrium::domain::page::PageRequest;
    use atrium::server::services::{audit, audit_names};
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Named Corp").await;
    let tid = s(&t, "id");
    let (_, created) = app
        .call(
            &c,
            "create_key",
            &[("tenant_id", &tid), ("name", "ci"), ("expires_in_days", "")],
        )
        .await;
    let admin = Actor::system("test");
    let found = audit::search(
        &app.svc,
        &admin,
        &AuditQuery::default(),
        PageRequest::default(),
    )
    .await
    .expect("search");
    let rows = audit_names::rows(&app.svc, found.items)
        .await
        .expect("rows");
    let key_row = rows
        .iter()
        .find(|r| r.event.action == "api_key.create")
        .expect("key event");
    let tenant = key_row.tenant.as_ref().expect("tenant named");
    assert_eq!(tenant.label, "Named Corp");
    assert_eq!(
        tenant.href.as_deref(),
        Some(format!("/tenants/{tid}").as_str())
    );
    assert_eq!(key_row.resource.label, s(&created["api_key"], "prefix"));
    assert!(key_row
        .details
        .iter()
        .any(|(k, v)| k == "name" && v == "ci"));
    let sign_in = rows
        .iter()
        .find(|r| r.event.action == "auth.sign_in")
        .expect("sign-in event");
    assert_eq!(
        sign_in.resource.label, ADMIN_EMAIL,
        "users read as their e-mail"
    );
    app
}

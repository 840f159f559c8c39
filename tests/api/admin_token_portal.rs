//! Issue 23, on both backends: the Admin API page before the wasm loads. A
//! platform admin creates a token with a plain form, sees it once (flashed
//! after the redirect, never again), uses it on /admin/v1, and revokes it;
//! a tenant admin reaches none of it.

use crate::common::{client, plain_client, TestApp};
use crate::portal::{create_tenant, create_user, s};

on_both_backends!(the_admin_api_page_works_without_javascript);

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    let status = r.status().as_u16();
    (status, r.text().await.expect("html"))
}

async fn the_admin_api_page_works_without_javascript(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let (status, html) = page(&app, &admin, "/admin-tokens").await;
    assert_eq!(status, 200);
    assert!(html.contains("No admin tokens yet.") && html.contains("/admin/v1/openapi.json"));
    let made = admin
        .post(app.url("/api/create_admin_token"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", app.url("/admin-tokens"))
        .form(&[
            ("name", "pipeline"),
            ("scope", "platform:read"),
            ("tenant", ""),
            ("expires_in_days", "30"),
            ("rate_per_minute", ""),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(made.status().as_u16(), 302);
    let (_, html) = page(&app, &admin, "/admin-tokens").await;
    let start = html.find("atr_adm_").expect("the token is shown once");
    let token: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert!(token.len() > 60, "{token}");
    let (_, again) = page(&app, &admin, "/admin-tokens").await;
    assert!(!again.contains(&token), "never shown twice");
    assert!(again.contains("pipeline") && again.contains("platform:read"));

    let listed = plain_client()
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api");
    assert_eq!(listed.status().as_u16(), 200);

    let id = &token["atr_adm_".len().."atr_adm_".len() + 16];
    let (status, body) = app.call(&admin, "revoke_admin_token", &[("id", id)]).await;
    assert_eq!(status, 200, "{body}");
    let refused = plain_client()
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api");
    assert_eq!(refused.status().as_u16(), 401);

    let t = s(&create_tenant(&app, &admin, "Token Tenant").await, "id");
    create_user(&app, &admin, "boss@token.io", "tenant_admin", &t).await;
    let c = client();
    app.sign_in(&c, "boss@token.io", "a-long-password-1").await;
    let (status, body) = app
        .call(
            &c,
            "create_admin_token",
            &[
                ("name", "mine"),
                ("scope", "tenant:write"),
                ("tenant", &t),
                ("expires_in_days", ""),
                ("rate_per_minute", ""),
            ],
        )
        .await;
    assert_eq!(
        status, 403,
        "only platform admins make admin tokens: {body}"
    );
    assert_eq!(app.call(&c, "list_admin_tokens", &[]).await.0, 403);
    app
}

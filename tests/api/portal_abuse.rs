//! Abuse cases against the portal (issue 10, items 10 and 14), on SQLite
//! and PostgreSQL: sign-in throttling that cannot be turned against the
//! admin, forged client addresses, cross-site exports, and what tenant
//! users may see and undo.

use std::time::Duration;

use crate::common::{both, both_configured, client, Needs, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::portal::{create_tenant, create_user, s};
use atrium::domain::audit::AuditQuery;
use atrium::domain::page::PageRequest;
use atrium::domain::role::Role;
use atrium::domain::tenant::TenantId;
use atrium::server::config::Config;
use atrium::server::services::{audit, Actor};
use libtest_mimic::Trial;
use serde_json::Value;

const WRONG: &str = "wrong-password-123";

pub fn trials() -> Vec<Trial> {
    let m = "portal_abuse";
    let mut out = Vec::new();
    out.extend(both_configured(
        m,
        "a_guesser_cannot_lock_the_admin_out",
        Needs::Nothing,
        behind_proxy,
        a_guesser_cannot_lock_the_admin_out,
    ));
    out.extend(both_configured(
        m,
        "forged_forwarded_for_does_not_dodge_the_throttle",
        Needs::Nothing,
        behind_proxy,
        forged_forwarded_for_does_not_dodge_the_throttle,
    ));
    out.extend(both(
        m,
        "unproxied_forwarded_for_is_ignored",
        Needs::Nothing,
        unproxied_forwarded_for_is_ignored,
    ));
    out.extend(both(
        m,
        "concurrent_guesses_cannot_pass_the_count",
        Needs::Nothing,
        concurrent_guesses_cannot_pass_the_count,
    ));
    out.extend(both(
        m,
        "hostile_emails_are_bounded",
        Needs::Nothing,
        hostile_emails_are_bounded,
    ));
    out.extend(both(
        m,
        "exports_are_same_origin_posts",
        Needs::Nothing,
        exports_are_same_origin_posts,
    ));
    out.extend(both(
        m,
        "a_platform_suspension_stands",
        Needs::Nothing,
        a_platform_suspension_stands,
    ));
    out.extend(both(
        m,
        "tenant_roles_need_a_tenant_in_the_database",
        Needs::Nothing,
        tenant_roles_need_a_tenant_in_the_database,
    ));
    out.extend(both(
        m,
        "tenant_users_see_no_internals",
        Needs::Nothing,
        tenant_users_see_no_internals,
    ));
    out
}

fn behind_proxy(c: &mut Config) {
    c.trust_proxy = true;
    c.trusted_hops = 1;
}

/// Signs in as if from `from` (the address our one trusted proxy appends).
async fn sign_in_from(
    app: &TestApp,
    c: &reqwest::Client,
    from: &str,
    email: &str,
    pw: &str,
) -> String {
    let res = c
        .post(app.url("/auth/sign-in"))
        .header("x-forwarded-for", from)
        .form(&[("email", email), ("password", pw)])
        .send()
        .await
        .expect("sign-in");
    let to = res.headers().get("location").and_then(|l| l.to_str().ok());
    to.unwrap_or_default().to_string()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count")
}

/// A hard lock after five failures let anyone keep `admin@…` out. Now a
/// guesser at one address throttles only that address, and many addresses
/// together delay the admin by at most a minute at a time.
async fn a_guesser_cannot_lock_the_admin_out(app: TestApp) -> TestApp {
    let c = client();
    for _ in 0..12 {
        sign_in_from(&app, &c, "198.51.100.7", ADMIN_EMAIL, WRONG).await;
    }
    assert_eq!(
        sign_in_from(&app, &c, "198.51.100.7", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "/login?error=throttled"
    );
    assert_eq!(
        sign_in_from(&app, &client(), "203.0.113.5", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "/",
        "the admin elsewhere is not locked out"
    );

    // A distributed guesser: one failure each from many addresses.
    for i in 0..12 {
        sign_in_from(
            &app,
            &client(),
            &format!("198.51.100.{}", 20 + i),
            ADMIN_EMAIL,
            WRONG,
        )
        .await;
    }
    let admin = client();
    assert_eq!(
        sign_in_from(&app, &admin, "203.0.113.5", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "/login?error=throttled"
    );
    let wait: i64 = count(&app, "SELECT MAX(next_at) FROM sign_in_throttle WHERE key LIKE 'account:admin@%' AND key NOT LIKE '%|%'").await
        - atrium::domain::time::now_millis();
    assert!(
        wait <= 60_000,
        "the account-wide back-off is capped at a minute, was {wait} ms"
    );
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64 + 50)).await;
    assert_eq!(
        sign_in_from(&app, &admin, "203.0.113.5", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "/"
    );
    app
}

/// Behind the proxy, the client's own entries on the left are ignored,
/// and a whole IPv6 /64 counts as one client.
async fn forged_forwarded_for_does_not_dodge_the_throttle(app: TestApp) -> TestApp {
    let c = client();
    for i in 0..5 {
        let forged = format!("10.9.9.{i}, 198.51.100.7");
        assert_eq!(
            sign_in_from(&app, &c, &forged, ADMIN_EMAIL, WRONG).await,
            "/login?error=invalid"
        );
    }
    assert_eq!(
        sign_in_from(&app, &c, "10.1.1.1, 198.51.100.7", ADMIN_EMAIL, WRONG).await,
        "/login?error=throttled"
    );

    // Another account, so the account-wide back-off (ten failures) stays out of it.
    let other = "someone@example.com";
    for i in 0..5 {
        let addr = format!("2001:db8:7:7::{:x}", i + 1);
        assert_eq!(
            sign_in_from(&app, &c, &addr, other, WRONG).await,
            "/login?error=invalid"
        );
    }
    assert_eq!(
        sign_in_from(&app, &c, "2001:db8:7:7:ffff::1", other, WRONG).await,
        "/login?error=throttled",
        "same /64"
    );
    assert_eq!(
        sign_in_from(&app, &c, "2001:db8:7:8::1", other, WRONG).await,
        "/login?error=invalid",
        "another /64"
    );
    app
}

/// Without `--trust-proxy` the header is the client's own word.
async fn unproxied_forwarded_for_is_ignored(app: TestApp) -> TestApp {
    let c = client();
    for i in 0..5 {
        sign_in_from(&app, &c, &format!("198.51.100.{i}"), ADMIN_EMAIL, WRONG).await;
    }
    assert_eq!(
        sign_in_from(&app, &c, "203.0.113.99", ADMIN_EMAIL, WRONG).await,
        "/login?error=throttled"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sign_in_throttle WHERE key LIKE '%198.51%' OR key LIKE '%203.0%'"
        )
        .await,
        0
    );
    app
}

/// The attempt is recorded before the password is checked: thirty guesses
/// at once still get only the five free ones, and the throttled rest make
/// one audit event, not twenty-five.
async fn concurrent_guesses_cannot_pass_the_count(app: TestApp) -> TestApp {
    let guesses = (0..30).map(|_| {
        let (app, c) = (&app, client());
        async move { app.sign_in(&c, ADMIN_EMAIL, WRONG).await }
    });
    let outcomes = futures::future::join_all(guesses).await;
    let checked = outcomes
        .iter()
        .filter(|o| o.as_str() == "/login?error=invalid")
        .count();
    assert_eq!(checked, 5, "{outcomes:?}");
    let wrong = count(
        &app,
        "SELECT COUNT(*) FROM audit_events WHERE action = 'auth.sign_in' AND status = 'failure'",
    )
    .await;
    assert_eq!(wrong, 5);
    let denied = count(
        &app,
        "SELECT COUNT(*) FROM audit_events WHERE action = 'auth.sign_in' AND status = 'denied'",
    )
    .await;
    assert_eq!(denied, 1, "throttled attempts are aggregated");
    let suppressed = count(
        &app,
        "SELECT denied FROM sign_in_throttle WHERE key LIKE 'account:admin@%|%'",
    )
    .await;
    assert_eq!(suppressed, 24, "the rest are counted for the next event");
    app
}

/// A 100 kB address full of control characters is stored truncated and
/// clean, in the audit trail and the throttle.
async fn hostile_emails_are_bounded(app: TestApp) -> TestApp {
    let hostile = format!("\u{0}\u{1b}[31m{}@x.io\r\nforged: yes", "a".repeat(100_000));
    assert_eq!(
        app.sign_in(&client(), &hostile, WRONG).await,
        "/login?error=invalid"
    );
    let stored: String =
        sqlx::query_scalar("SELECT resource_id FROM audit_events WHERE action = 'auth.sign_in'")
            .fetch_one(&app.svc.db.pool)
            .await
            .expect("event");
    assert!(
        stored.len() <= 254 && !stored.chars().any(char::is_control),
        "{stored:.40}"
    );
    let longest = count(&app, "SELECT MAX(LENGTH(key)) FROM sign_in_throttle").await;
    assert!(longest < 400, "throttle keys are bounded: {longest}");
    app
}

/// An export runs only as a POST from the portal's own page: a link or a
/// form on another site cannot make a signed-in user export.
async fn exports_are_same_origin_posts(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Exported").await;
    let form = [("tenant", s(&t, "id")), ("format", "csv".into())];
    let get = c
        .get(app.url(&format!("/audit/export?tenant={}", s(&t, "id"))))
        .send()
        .await
        .expect("get");
    assert_eq!(get.status().as_u16(), 405);
    let cross = c
        .post(app.url("/audit/export"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(cross.status().as_u16(), 403);
    let own = c
        .post(app.url("/audit/export"))
        .header("origin", app.base.as_str())
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(own.status().as_u16(), 200);
    assert!(own
        .text()
        .await
        .unwrap_or_default()
        .contains("tenant.create"));
    app
}

async fn user_id(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("user")
}

/// A tenant admin may lift their own suspensions, never a platform admin's.
async fn a_platform_suspension_stands(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let tid = s(&create_tenant(&app, &admin, "Suspended").await, "id");
    create_user(&app, &admin, "owner@s.io", "tenant_admin", &tid).await;
    create_user(&app, &admin, "member@s.io", "tenant_viewer", &tid).await;
    let member = user_id(&app, "member@s.io").await;
    let owner = client();
    assert_eq!(
        app.sign_in(&owner, "owner@s.io", "a-long-password-1").await,
        "/"
    );
    let set = |c: &reqwest::Client, on: &str| {
        let (c, id, on) = (c.clone(), member.clone(), on.to_string());
        let app = &app;
        async move {
            app.call(&c, "set_user_disabled", &[("id", &id), ("disabled", &on)])
                .await
        }
    };
    assert_eq!(set(&owner, "true").await.0, 200);
    assert_eq!(set(&owner, "false").await.0, 200, "their own suspension");
    assert_eq!(set(&admin, "true").await.0, 200);
    let (status, body) = set(&owner, "false").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("platform admin"), "{body}");
    assert_eq!(set(&admin, "false").await.0, 200);
    app
}

async fn tenant_roles_need_a_tenant_in_the_database(app: TestApp) -> TestApp {
    for role in ["tenant_admin", "tenant_viewer"] {
        let refused = sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, tenant_id, created_at, updated_at) \
             VALUES ($1, $2, 'x', $3, NULL, 0, 0)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(format!("{role}@nowhere.io"))
        .bind(role)
        .execute(&app.svc.db.pool)
        .await;
        assert!(refused.is_err(), "{role} without a tenant was stored");
    }
    let refused = sqlx::query("UPDATE users SET role = 'tenant_admin' WHERE email = $1")
        .bind(ADMIN_EMAIL)
        .execute(&app.svc.db.pool)
        .await;
    assert!(refused.is_err(), "an update cannot make one either");
    app
}

/// Store names (a schema, a database, a file) and raw errors are the
/// operator's: a tenant viewer sees the isolation level instead.
async fn tenant_users_see_no_internals(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let tid = s(&create_tenant(&app, &admin, "Private").await, "id");
    let (status, moved) = app
        .call(
            &admin,
            "set_tenant_isolation",
            &[("id", &tid), ("level", "schema_per_tenant")],
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let (_, own) = app.call(&admin, "tenant_data", &[("id", &tid)]).await;
    assert!(
        s(&own, "location").contains(&tid.replace('-', "")),
        "operators see the store: {own}"
    );

    create_user(&app, &admin, "viewer@p.io", "tenant_viewer", &tid).await;
    let viewer = client();
    assert_eq!(
        app.sign_in(&viewer, "viewer@p.io", "a-long-password-1")
            .await,
        "/"
    );
    let (_, seen) = app.call(&viewer, "tenant_data", &[("id", &tid)]).await;
    assert!(!seen.to_string().contains(&tid.replace('-', "")), "{seen}");

    // Viewers cannot search the audit log at all; the tenant's admins can.
    create_user(&app, &admin, "owner@p.io", "tenant_admin", &tid).await;
    let actor = Actor {
        user_id: Some(user_id(&app, "owner@p.io").await),
        label: "owner@p.io".into(),
        role: Role::TenantAdmin,
        tenant_id: Some(TenantId::parse(&tid).expect("id")),
        client_ip: None,
    };
    let q = AuditQuery {
        tenant_id: tid.clone(),
        ..Default::default()
    };
    let page = audit::search(&app.svc, &actor, &q, PageRequest::new(None, None))
        .await
        .expect("search");
    let details: Vec<Value> = page
        .items
        .iter()
        .filter_map(|e| serde_json::from_str(&e.details).ok())
        .collect();
    assert!(
        details.iter().any(|d| d["store"] == "(internal)"),
        "{details:?}"
    );
    // Store names carry the tenant id without its dashes.
    let store_mark = tid.replace('-', "");
    assert!(
        !details.iter().any(|d| d.to_string().contains(&store_mark)),
        "{details:?}"
    );
    app
}

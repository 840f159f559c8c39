//! Feature flags through the real server (issue 11), on SQLite and
//! PostgreSQL: platform flags switch Atrium's capabilities on a running
//! gateway within the cache poll of a CLI change; tenant flags stay inside
//! their tenant; every change is audited with before and after.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::atrium;
use crate::common::TestApp;
use crate::governance::{rule, send, setup, EMAIL};
use atrium::domain::flag::{Flag, FlagKey};
use atrium::domain::pii::EntityType;
use atrium::domain::policy::{Action, Direction, Target};
use atrium::domain::role::Role;
use atrium::server::services::flags::{self, Change, Scope};
use atrium::server::services::{tenants, Actor, ServiceError};

on_both_backends!(
    capabilities_follow_a_cli_change_within_two_seconds,
    tenant_flags_stay_inside_their_tenant,
    changes_are_audited_with_what_changed,
    ofrep_answers_in_its_own_terms,
);

/// Polls `check` until it holds, at most 2 s (the promise to operators).
async fn within_two_seconds<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what}: not within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `atrium flag eval KEY --tenant T --json`: the value and the reason.
fn eval_json(app: &TestApp, key: &str, tenant: &str) -> (serde_json::Value, serde_json::Value) {
    let out = atrium(
        app,
        &["flag", "eval", key, "--tenant", tenant, "--json"],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    (v["value"].clone(), v["reason"].clone())
}

pub(crate) fn cli(app: &TestApp, args: &[&str]) {
    let out = atrium(app, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn capabilities_follow_a_cli_change_within_two_seconds(app: TestApp) -> TestApp {
    let s = setup(&app, "Flagged").await;
    let (status, _) = send(&app, &s.key, "anthropic", "hello", true).await;
    assert_eq!(status, 200, "streaming is on by default");

    cli(&app, &["flag", "disable", "gateway.streaming"]);
    for (dialect, error) in [
        ("anthropic", "permission_error"),
        ("openai", "permission_denied"),
    ] {
        within_two_seconds("streaming off", || async {
            let (status, body) = send(&app, &s.key, dialect, "hello", true).await;
            status == 403 && body.contains(error) && body.contains("streaming")
        })
        .await;
    }
    assert_eq!(
        send(&app, &s.key, "openai", "hello", false).await.0,
        200,
        "whole answers still work"
    );
    cli(&app, &["flag", "enable", "gateway.streaming"]);
    within_two_seconds("streaming back", || async {
        send(&app, &s.key, "openai", "hi", true).await.0 == 200
    })
    .await;

    let email = Target::Entity(EntityType::EmailAddress);
    rule(
        &app.svc,
        Some(&s.tenant_id),
        email,
        Action::Redact,
        Direction::Response,
    )
    .await;
    within_two_seconds("responses redacted", || async {
        send(&app, &s.key, "openai", &format!("mail {EMAIL}"), false)
            .await
            .1
            .contains("[REDACTED:EMAIL_ADDRESS]")
    })
    .await;
    cli(&app, &["flag", "disable", "governance.response_scanning"]);
    within_two_seconds("response scanning off", || async {
        send(&app, &s.key, "openai", &format!("mail {EMAIL}"), false)
            .await
            .1
            .contains(EMAIL)
    })
    .await;
    // Streams follow their own flag, still on.
    let (_, streamed) = send(&app, &s.key, "openai", &format!("mail {EMAIL}"), true).await;
    assert!(streamed.contains("[REDACTED:EMAIL_ADDRESS]"), "{streamed}");

    // Evaluated per tenant: targeting turns custom models on for this one.
    let tenant = s.tenant_id.as_str();
    assert_eq!(
        eval_json(&app, "models.custom", tenant),
        (json!(false), json!("STATIC"))
    );
    cli(
        &app,
        &["flag", "target", "models.custom", "--tenants", tenant],
    );
    assert_eq!(
        eval_json(&app, "models.custom", tenant),
        (json!(true), json!("TARGETING_MATCH"))
    );
    app
}

pub(crate) fn tenant_admin(tenant: &atrium::domain::tenant::TenantId) -> Actor {
    Actor {
        user_id: None,
        label: "owner".into(),
        role: Role::TenantAdmin,
        tenant_id: Some(tenant.clone()),
        client_ip: None,
    }
}

async fn tenant_flags_stay_inside_their_tenant(app: TestApp) -> TestApp {
    let admin = Actor::system("test");
    use atrium::domain::tenant::{IsolationLevel, TenantSettings};
    let new =
        |name: &str| TenantSettings::new(name, IsolationLevel::RowLevel, "eu-west", 60, 10_000);
    let a = tenants::create(&app.svc, &admin, new("Flag A").expect("settings"))
        .await
        .expect("a")
        .id;
    let b = tenants::create(&app.svc, &admin, new("Flag B").expect("settings"))
        .await
        .expect("b")
        .id;
    let key = FlagKey::parse("checkout.new").expect("key");
    let flag = Flag::boolean(key.clone(), "A's checkout");
    flags::create(&app.svc, &tenant_admin(&a), &Scope::Tenant(a.clone()), flag)
        .await
        .expect("create");

    // B asks for the same key in its own scope: not found, not forbidden.
    let seen = flags::get(&app.svc, &tenant_admin(&b), &Scope::Tenant(b.clone()), &key).await;
    assert!(matches!(seen, Err(ServiceError::NotFound(_))), "{seen:?}");
    let listed = flags::list(&app.svc, &tenant_admin(&b), &Scope::Tenant(b.clone()))
        .await
        .expect("list");
    assert!(listed.is_empty());
    // Nor can B name A's scope, or a tenant admin touch platform flags.
    assert!(
        flags::list(&app.svc, &tenant_admin(&b), &Scope::Tenant(a.clone()))
            .await
            .is_err()
    );
    let platform = flags::change(
        &app.svc,
        &tenant_admin(&a),
        &Scope::Platform,
        &FlagKey::parse("gateway.streaming").expect("k"),
        Change::Enable(false),
    )
    .await;
    assert!(matches!(platform, Err(ServiceError::Forbidden)));
    // The same key can exist in B as a different flag.
    flags::create(
        &app.svc,
        &tenant_admin(&b),
        &Scope::Tenant(b.clone()),
        Flag::boolean(key.clone(), "B's"),
    )
    .await
    .expect("b's own");
    app
}

async fn changes_are_audited_with_what_changed(app: TestApp) -> TestApp {
    cli(
        &app,
        &[
            "flag",
            "create",
            "--key",
            "router.v2",
            "--description",
            "new router",
        ],
    );
    cli(&app, &["flag", "set-rollout", "router.v2", "10"]);
    cli(&app, &["flag", "set-rollout", "router.v2", "20"]);
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, details FROM audit_events WHERE resource_type = 'flag' AND resource_id = 'router.v2' ORDER BY seq",
    )
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("audit");
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["flag.create", "flag.rollout", "flag.rollout"]);
    let last: serde_json::Value = serde_json::from_str(&rows[2].1).expect("details");
    let step = &last["changes"]["/rules/0/percentage"];
    assert_eq!(step["before"], 10, "{last}");
    assert_eq!(step["after"], 20, "{last}");
    assert_eq!(last["summary"], "rollout 10% → 20%");
    let bad = atrium(&app, &["flag", "set-rollout", "router.v2", "101"], None);
    assert!(!bad.status.success(), "101% is refused");
    app
}

pub(crate) async fn ofrep(
    app: &TestApp,
    key: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let res = crate::common::plain_client()
        .post(app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("ofrep");
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (
        status,
        res.json().await.unwrap_or(serde_json::Value::Null),
        retry,
    )
}

/// OFREP's statuses and error codes: 401, 404 for a flag in another tenant
/// (not 403), 400 with PARSE_ERROR / INVALID_CONTEXT / TARGETING_KEY_MISSING,
/// and 429 with Retry-After from the tenant's own limits.
async fn ofrep_answers_in_its_own_terms(app: TestApp) -> TestApp {
    use atrium::domain::tenant::{IsolationLevel, TenantSettings};
    let admin = Actor::system("test");
    let new = |name: &str, rpm| {
        TenantSettings::new(name, IsolationLevel::RowLevel, "eu-west", rpm, 10_000)
    };
    let a = tenants::create(&app.svc, &admin, new("Ofrep A", 1000).expect("s"))
        .await
        .expect("a")
        .id;
    let b = tenants::create(&app.svc, &admin, new("Ofrep B", 3).expect("s"))
        .await
        .expect("b")
        .id;
    let key_a = atrium::server::services::api_keys::create(&app.svc, &admin, &a, "ofrep", None)
        .await
        .expect("key")
        .key;
    let key_b = atrium::server::services::api_keys::create(&app.svc, &admin, &b, "ofrep", None)
        .await
        .expect("key")
        .key;
    let flag_key = FlagKey::parse("beta").expect("key");
    let mut flag = Flag::boolean(flag_key.clone(), "A's beta");
    flags::create(
        &app.svc,
        &tenant_admin(&a),
        &Scope::Tenant(a.clone()),
        flag.clone(),
    )
    .await
    .expect("create");
    flag = flags::change(
        &app.svc,
        &admin,
        &Scope::Tenant(a.clone()),
        &flag_key,
        Change::Rollout(30),
    )
    .await
    .expect("rollout");
    assert!(flag.needs_targeting_key());

    let one = "/ofrep/v1/evaluate/flags/beta";
    let (status, body, _) = ofrep(&app, &key_a, one, r#"{"context":{"targetingKey":"u1"}}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["reason"] == "SPLIT" || body["reason"] == "DEFAULT",
        "{body}"
    );
    assert_eq!(ofrep(&app, "atr_bogus_key", one, "{}").await.0, 401);
    let (status, body, _) = ofrep(&app, &key_b, one, r#"{"context":{"targetingKey":"u1"}}"#).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("FLAG_NOT_FOUND")),
        "not 403: {body}"
    );
    for (payload, code) in [
        ("{not json", "PARSE_ERROR"),
        (r#"{"context": 5}"#, "INVALID_CONTEXT"),
        (r#"{"context": {"targetingKey": 7}}"#, "INVALID_CONTEXT"),
        (r#"{"context": {}}"#, "TARGETING_KEY_MISSING"),
    ] {
        let (status, body, _) = ofrep(&app, &key_a, one, payload).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (400, Some(code)),
            "{payload}: {body}"
        );
    }
    let bulk = "/ofrep/v1/evaluate/flags";
    let (status, body, _) = ofrep(&app, &key_a, bulk, r#"{"context":{"targetingKey":"u1"}}"#).await;
    assert_eq!(
        (status, body["flags"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    // Evaluations are usage of their own kind: one success, one
    // TARGETING_KEY_MISSING and one bulk flag evaluated; parse errors and
    // the 401 count nothing, and no tokens or requests appear.
    within_two_seconds("evaluations in the ledger", || async {
        let r = atrium::server::services::usage::report(&app.svc, &admin, &a, None, None)
            .await
            .expect("report");
        assert_eq!((r.totals.requests, r.totals.input_tokens), (0, 0));
        assert!(r.by_model.is_empty(), "{:?}", r.by_model);
        r.totals.evaluations == 3
    })
    .await;
    // Tenant B allows three requests a minute; one was spent above.
    let mut last = (0, None);
    for _ in 0..3 {
        let (status, _, retry) = ofrep(&app, &key_b, bulk, "{}").await;
        last = (status, retry);
    }
    assert_eq!(last.0, 429);
    assert!(
        last.1
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "Retry-After in seconds"
    );
    app
}

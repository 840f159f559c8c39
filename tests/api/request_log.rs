//! Issue 22, item 3, on both backends: the request log is off until a
//! tenant admin turns it on; `hashes` mode keeps only SHA-256s; the log
//! moves with the tenant's data and goes with its erasure; retention
//! purges are audited; another tenant's admin reaches none of it; a
//! platform admin's read is written into the tenant's own chain.

use atrium::domain::compliance::{Period, ReportKind};
use atrium::domain::request_log::{LogMode, LogSettings};
use atrium::domain::role::Role;
use atrium::domain::tenant::{IsolationLevel, TenantId};
use atrium::domain::time::{now_millis, DAY};
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::compliance::{self, request_log};
use atrium::server::services::{tenant_data, Actor, ServiceError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::abuse_pools::tenant_admin;
use crate::common::TestApp;
use crate::gateway::{post, setup, tenant_with_key};

on_both_backends!(
    the_log_is_opt_in_hashed_moved_and_purged,
    only_the_tenants_admins_reach_its_evidence
);

fn admin() -> Actor {
    Actor::system("test")
}

fn all_time() -> Period {
    Period::days("2020-01-01", "2099-12-31").expect("period")
}

async fn access(app: &TestApp, actor: &Actor, t: &TenantId, subject: &str) -> Value {
    let req = compliance::Request {
        kind: ReportKind::Access,
        tenant: Some(t),
        period: all_time(),
        subject: Some(subject),
    };
    compliance::generate(&app.svc, actor, req)
        .await
        .expect("access report")
}

async fn ask(app: &TestApp, key: &str, text: &str) {
    let r = post(
        app,
        "/v1/messages",
        key,
        json!({ "model": "claude-mock", "max_tokens": 8,
        "messages": [{ "role": "user", "content": text }] }),
    )
    .await;
    assert_eq!(r.status(), 200);
}

async fn log_rows(app: &TestApp, t: &TenantId) -> i64 {
    let data = tenant_data::data(&app.svc, &admin(), t)
        .await
        .expect("data");
    data.rows
        .iter()
        .find(|(table, _)| table == "request_log")
        .map_or(0, |(_, n)| *n)
}

async fn the_log_is_opt_in_hashed_moved_and_purged(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let t = &s.tenant_id;
    ask(&app, &s.anthropic_key, "off: carol@example.net").await;
    app.running.gateway.ledger.flush().await;
    assert_eq!(log_rows(&app, t).await, 0, "off by default");

    let hashes = LogSettings::new(LogMode::Hashes, None).expect("settings");
    request_log::set(&app.svc, &tenant_admin(t), t, hashes)
        .await
        .expect("a tenant admin turns it on");
    ask(&app, &s.anthropic_key, "hashed: carol@example.net").await;
    app.running.gateway.ledger.flush().await;
    // A platform admin who is a person: their read is written into the
    // tenant's own chain; the server's own reads are not.
    let operator = Actor {
        user_id: Some("op-1".into()),
        ..admin()
    };
    let found = access(&app, &operator, t, "carol@example.net").await;
    let rows = found["body"]["requests"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 1, "only the request made while logging");
    let prompt = rows[0]["prompt"].as_str().expect("prompt");
    assert_eq!(prompt.len(), 64, "a SHA-256, not the text: {prompt}");
    assert!(!prompt.contains("carol"));
    let bytes = rows[0]["prompt_bytes"].as_i64().expect("bytes");
    assert!(bytes > 64);
    let response = rows[0]["response"].as_str().expect("response");
    assert_eq!(response.len(), 64);
    assert_ne!(response, hex::encode(Sha256::digest(b"")));

    // The log moves with the tenant's data.
    let moved = tenant_data::set_isolation(&app.svc, &admin(), t, IsolationLevel::SchemaPerTenant)
        .await
        .expect("move");
    assert!(moved.target_rows >= moved.source_rows);
    assert_eq!(log_rows(&app, t).await, 1);
    let after = access(&app, &admin(), t, "carol@example.net").await;
    assert_eq!(after["body"]["requests"], found["body"]["requests"]);

    // Retention: a row past it is purged, and the purge is audited.
    let keep = LogSettings::new(LogMode::Full, Some(1)).expect("settings");
    request_log::set(&app.svc, &admin(), t, keep)
        .await
        .expect("set");
    let store = app.svc.stores.open(t).await.expect("store");
    assert_eq!(
        store
            .purge_log_before(now_millis() - DAY)
            .await
            .expect("none"),
        0
    );
    let later = now_millis() + 2 * DAY;
    let purged = request_log::purge_expired_at(&app.svc, later).await;
    assert_eq!(purged.expect("purge"), 1);
    assert_eq!(log_rows(&app, t).await, 0);
    let period = atrium::domain::dashboard::Span::parse("7d").expect("span");
    atrium::server::services::dashboards::tenant(&app.svc, &operator, t, period, None, None)
        .await
        .expect("usage");
    let reads: Vec<(String, String)> = sqlx::query_as(
        "SELECT chain, details FROM audit_events WHERE action = 'data.read' ORDER BY seq",
    )
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("reads");
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(
        reads.iter().all(|(chain, _)| chain == t.as_str()),
        "in the tenant's chain"
    );
    assert!(reads[1].1.contains("usage"));
    let actions = app.audit_actions().await;
    for expected in ["tenant.request_log", "request_log.purge", "data.read"] {
        assert!(
            actions.iter().any(|(a, _)| a == expected),
            "{expected} audited: {actions:?}"
        );
    }
    app
}

async fn only_the_tenants_admins_reach_its_evidence(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let (other, _) = tenant_with_key(&app, "Nosy Co", 100, "eu-west").await;
    let on = LogSettings::new(LogMode::Full, None).expect("settings");
    let nosy = tenant_admin(&other);
    let refused = request_log::set(&app.svc, &nosy, &s.tenant_id, on).await;
    assert!(
        matches!(refused, Err(ServiceError::NotFound(_))),
        "{refused:?}"
    );
    let viewer = Actor {
        role: Role::TenantViewer,
        ..tenant_admin(&s.tenant_id)
    };
    let refused = request_log::set(&app.svc, &viewer, &s.tenant_id, on).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden)));
    for (actor, another_tenant) in [(&nosy, true), (&viewer, false)] {
        let req = compliance::Request {
            kind: ReportKind::Ropa,
            tenant: Some(&s.tenant_id),
            period: all_time(),
            subject: None,
        };
        let refused = compliance::generate(&app.svc, actor, req).await;
        match another_tenant {
            true => assert!(matches!(refused, Err(ServiceError::NotFound(_)))),
            false => assert!(matches!(refused, Err(ServiceError::Forbidden))),
        }
    }
    let own = tenant_admin(&s.tenant_id);
    request_log::set(&app.svc, &own, &s.tenant_id, on)
        .await
        .expect("own tenant");
    let report = access(&app, &own, &s.tenant_id, "nobody@example.com").await;
    let id = report["id"].as_str().expect("id");
    let stolen = compliance::report::get(&app.svc, &nosy, id).await;
    assert!(
        matches!(stolen, Err(ServiceError::NotFound(_))),
        "{stolen:?}"
    );
    let platform = compliance::Request {
        kind: ReportKind::Processor,
        tenant: None,
        period: all_time(),
        subject: None,
    };
    let refused = compliance::generate(&app.svc, &own, platform).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden)));
    app
}

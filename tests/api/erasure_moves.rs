//! Issue 22's weak point, on both backends: an erasure (GDPR Art. 17) and
//! a move of the same tenant's data to another isolation level exclude
//! each other. Without that, an interrupted move (dual writes on, the
//! copy done) let an erasure delete the subject's rows in the old store
//! only, and finishing the move brought them back from the new one.

use atrium::domain::compliance::{Period, ReportKind};
use atrium::domain::request_log::{LogMode, LogSettings};
use atrium::domain::tenant::{IsolationLevel, TenantId};
use atrium::domain::time::now_millis;
use atrium::server::db::tenant_store::OnSwitch;
use atrium::server::db::DbError;
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::compliance::{self, erasure, request_log};
use atrium::server::services::{tenant_data, tenants, Actor, ServiceError};
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::gateway::{post, setup};

on_both_backends!(an_erasure_and_a_move_exclude_each_other);

const SUBJECT: &str = "carol@example.net";

fn admin() -> Actor {
    Actor::system("test")
}

async fn ask(app: &TestApp, key: &str) {
    let body = json!({ "model": "claude-mock", "max_tokens": 8,
        "messages": [{ "role": "user", "content": format!("I am {SUBJECT}") }] });
    let r = post(app, "/v1/messages", key, body).await;
    assert_eq!(r.status(), 200);
    app.running.gateway.ledger.flush().await;
}

/// The subject's request-log rows, as an access request finds them.
async fn found(app: &TestApp, t: &TenantId) -> usize {
    let req = compliance::Request {
        kind: ReportKind::Access,
        tenant: Some(t),
        period: Period::days("2020-01-01", "2099-12-31").expect("period"),
        subject: Some(SUBJECT),
    };
    let report = compliance::generate(&app.svc, &admin(), req)
        .await
        .expect("access report");
    report["body"]["requests"].as_array().map_or(0, Vec::len)
}

async fn erase(app: &TestApp, t: &TenantId) -> Result<Value, ServiceError> {
    let tenant = tenants::get(&app.svc, &admin(), t).await.expect("tenant");
    erasure::erase(&app.svc, &admin(), &tenant, SUBJECT).await
}

async fn move_to(app: &TestApp, t: &TenantId, to: IsolationLevel) -> Result<(), ServiceError> {
    tenant_data::set_isolation(&app.svc, &admin(), t, to)
        .await
        .map(|_| ())
}

async fn level(app: &TestApp, t: &TenantId) -> IsolationLevel {
    let p = app.svc.stores.placement(t).await.expect("read");
    p.expect("placement").location.level()
}

/// Ends a lease as if its process had died an hour ago.
async fn expire(app: &TestApp, t: &TenantId, table: &str, column: &str) {
    sqlx::query(&format!(
        "UPDATE {table} SET {column} = $1 WHERE tenant_id = $2"
    ))
    .bind(now_millis() - 1)
    .bind(t)
    .execute(&app.svc.db.pool)
    .await
    .expect("expire");
}

fn conflict(r: Result<impl std::fmt::Debug, ServiceError>, says: &str) {
    match r {
        Err(ServiceError::Conflict(m)) => assert!(m.contains(says), "{m}"),
        other => panic!("expected a conflict saying {says:?}, got {other:?}"),
    }
}

async fn an_erasure_and_a_move_exclude_each_other(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let t = &s.tenant_id;
    let full = LogSettings::new(LogMode::Full, None).expect("settings");
    request_log::set(&app.svc, &admin(), t, full)
        .await
        .expect("log on");
    ask(&app, &s.anthropic_key).await;
    assert_eq!(found(&app, t).await, 1);

    // A move interrupted after its copy: writes go to both stores.
    let to = IsolationLevel::SchemaPerTenant;
    let fail: OnSwitch<'_> = Box::new(|_| Box::pin(async { Err(DbError::Store("cut".into())) }));
    let cut = app.svc.stores.move_tenant(t, to, fail).await;
    assert!(cut.is_err(), "the switch failed");
    conflict(erase(&app, t).await, "moving to schema");
    assert_eq!(found(&app, t).await, 1, "nothing erased");
    // Finishing the move lets the erasure through, and nothing comes back.
    move_to(&app, t, to).await.expect("the move resumes");
    let receipt = erase(&app, t).await.expect("erase");
    let removed = receipt["body"]["removed"].as_array().expect("removed");
    assert!(removed.contains(&json!({ "table": "request_log", "rows": 1 })));
    assert_eq!(found(&app, t).await, 0);

    // While an erasure holds the store, no move starts, and none is left
    // half-made; two erasures at once hold it until both let go.
    let first = app.svc.stores.hold_for_erasure(t).await.expect("hold");
    let second = app.svc.stores.hold_for_erasure(t).await.expect("hold");
    conflict(move_to(&app, t, IsolationLevel::RowLevel).await, "erasure");
    let p = app.svc.stores.placement(t).await.expect("read");
    assert!(p.expect("placement").target.is_none(), "no target left");
    app.svc
        .stores
        .release_erasure(first)
        .await
        .expect("release");
    conflict(move_to(&app, t, IsolationLevel::RowLevel).await, "erasure");
    app.svc
        .stores
        .release_erasure(second)
        .await
        .expect("release");
    move_to(&app, t, IsolationLevel::RowLevel)
        .await
        .expect("moves once both erasures ended");
    assert_eq!(level(&app, t).await, IsolationLevel::RowLevel);

    // A hold whose process died blocks moves until its lease ends.
    let stale = app.svc.stores.hold_for_erasure(t).await.expect("hold");
    conflict(move_to(&app, t, to).await, "erasure");
    expire(&app, t, "erasure_holds", "until").await;
    expire(&app, t, "tenant_stores", "erasing_until").await;
    move_to(&app, t, to)
        .await
        .expect("moves once the lease ended");
    assert_eq!(level(&app, t).await, to);
    // An erasure that outlived its lease and ends late does not cut short
    // a hold taken after it.
    let live = app.svc.stores.hold_for_erasure(t).await.expect("hold");
    app.svc
        .stores
        .release_erasure(stale)
        .await
        .expect("release");
    conflict(move_to(&app, t, IsolationLevel::RowLevel).await, "erasure");
    app.svc.stores.release_erasure(live).await.expect("release");
    move_to(&app, t, IsolationLevel::RowLevel)
        .await
        .expect("moves once the live hold ended");

    // A hold dropped unreleased (a caller that hung up) is released.
    drop(app.svc.stores.hold_for_erasure(t).await.expect("hold"));
    let mut moved = move_to(&app, t, to).await;
    for _ in 0..50 {
        if moved.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        moved = move_to(&app, t, to).await;
    }
    moved.expect("moves once the dropped hold is released");

    // One run of a move at a time: another live run refuses this one,
    // until its lease ends.
    sqlx::query(
        "UPDATE tenant_stores SET mover = 'other-run', moving_until = $1 WHERE tenant_id = $2",
    )
    .bind(now_millis() + 60_000)
    .bind(t)
    .execute(&app.svc.db.pool)
    .await
    .expect("another run");
    conflict(
        move_to(&app, t, IsolationLevel::RowLevel).await,
        "another move",
    );
    expire(&app, t, "tenant_stores", "moving_until").await;
    move_to(&app, t, IsolationLevel::RowLevel)
        .await
        .expect("moves once the other run's lease ended");
    assert_eq!(level(&app, t).await, IsolationLevel::RowLevel);
    app
}

//! The gateway's audit decisions are appended in batches (one head update
//! and one insert per chain per batch): the chains they make must be the
//! ones appending event by event makes, across insert chunks and chains,
//! with appends one by one continuing them.

use crate::common::TestApp;
use crate::governance::{broken, make_events};
use atrium::domain::audit::{AuditAction, AuditQuery, AuditStatus};
use atrium::server::services::audit::{self, Entry};
use atrium::server::services::{audit_chain, Actor};
use serde_json::json;

on_both_backends!(a_batch_of_decisions_continues_each_chain_unbroken);

async fn counts(app: &TestApp, chain: &str) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(MIN(chain_seq), 0), COALESCE(MAX(chain_seq), 0) \
         FROM audit_events WHERE chain = $1",
    )
    .bind(chain)
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("counts")
}

async fn a_batch_of_decisions_continues_each_chain_unbroken(app: TestApp) -> TestApp {
    let tenant = make_events(&app.svc, 3).await;
    let platform = audit_chain::PLATFORM;
    let (t0, _, _) = counts(&app, tenant.as_str()).await;
    let (p0, _, _) = counts(&app, platform).await;

    // 250 decisions alternating between the tenant's chain and the
    // platform's: more than one insert's worth (100 rows) per chain.
    let ids: Vec<String> = (0..250).map(|i| format!("req-{i}")).collect();
    let entries = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let e = Entry::success(AuditAction::PolicyRedact, "request", id)
                .status(AuditStatus::Success)
                .details(json!({ "n": i }));
            if i % 2 == 0 {
                e.tenant(&tenant)
            } else {
                e
            }
        })
        .collect();
    let mut tx = app.svc.db.pool.begin().await.expect("begin");
    audit::record_all(&app.svc, &mut tx, &Actor::gateway(), entries)
        .await
        .expect("record a batch");
    tx.commit().await.expect("commit");
    // One by one again after the batch.
    make_events_again(&app, &tenant).await;

    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    assert!(broken(&checks, tenant.as_str()).is_none(), "{checks:?}");
    assert!(broken(&checks, platform).is_none(), "{checks:?}");
    let (t, t_min, t_max) = counts(&app, tenant.as_str()).await;
    assert_eq!(t, t0 + 125 + 1, "the tenant's chain holds every event");
    assert_eq!((t_min, t_max), (1, t), "positions run 1..n without gaps");
    let (p, p_min, p_max) = counts(&app, platform).await;
    assert_eq!(p, p0 + 125);
    assert_eq!((p_min, p_max), (1, p));
    // The batch kept its order within each chain.
    let order: Vec<String> = sqlx::query_scalar(
        "SELECT resource_id FROM audit_events WHERE chain = $1 AND resource_type = 'request' \
         ORDER BY chain_seq",
    )
    .bind(tenant.as_str())
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("order");
    let expected: Vec<String> = ids.iter().step_by(2).cloned().collect();
    assert_eq!(order, expected);
    // Words find the gateway's decisions too (on PostgreSQL, outside the
    // trigram index).
    let found = |text: &str| {
        let q = AuditQuery {
            text: text.into(),
            action: AuditAction::PolicyRedact.as_str().into(),
            ..Default::default()
        };
        let svc = app.svc.clone();
        async move {
            audit::search(&svc, &Actor::system("test"), &q, Default::default())
                .await
                .expect("search")
                .total
        }
    };
    assert_eq!(found("REQ-249").await, 1);
    assert_eq!(found("req-24").await, 11, "req-24 and req-240 to req-249");
    app
}

async fn make_events_again(app: &TestApp, tenant: &atrium::domain::tenant::TenantId) {
    atrium::server::services::tenants::set_status(
        &app.svc,
        &Actor::system("test"),
        tenant,
        atrium::domain::tenant::TenantStatus::Active,
    )
    .await
    .expect("status");
}

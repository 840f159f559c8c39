//! Issue 21, items 14 and 17 (flags), on both backends: a tenant keeps a
//! bounded number of flags, each bounded in bytes, and a split's weights
//! cannot overflow. Before, all three were unbounded.

use atrium::domain::flag::{Flag, FlagKey, Rule, Weighted, MAX_FLAGS_PER_SCOPE};
use atrium::server::services::flags::{self, Scope};
use atrium::server::services::{Actor, ServiceError};

use crate::common::TestApp;
use crate::gateway::tenant_with_key;

on_both_backends!(tenant_flags_are_bounded);

async fn tenant_flags_are_bounded(app: TestApp) -> TestApp {
    let (tenant, _) = tenant_with_key(&app, "Flagged", 100, "eu-west").await;
    let scope = Scope::Tenant(tenant.clone());
    let admin = Actor::system("test");
    let flag = |k: &str| Flag::boolean(FlagKey::parse(k).expect("key"), k);
    // Huge targets: more bytes than a flag may hold.
    let mut big = flag("big");
    big.rules = vec![Rule::Targets {
        keys: (0..5_000).map(|i| format!("user-{i:0>200}")).collect(),
        variant: "on".into(),
    }];
    let r = flags::create(&app.svc, &admin, &scope, big).await;
    assert!(
        matches!(&r, Err(ServiceError::Invalid(e)) if e.field == "flag"),
        "{r:?}"
    );
    let mut split = flag("split");
    split.rules = vec![Rule::Split {
        weights: vec![
            Weighted {
                variant: "on".into(),
                weight: u32::MAX,
            },
            Weighted {
                variant: "off".into(),
                weight: 1,
            },
        ],
        group_id: None,
    }];
    let r = flags::create(&app.svc, &admin, &scope, split).await;
    assert!(
        matches!(&r, Err(ServiceError::Invalid(e)) if e.field == "weights"),
        "{r:?}"
    );
    // The count: made straight in the table up to the limit, then refused.
    let definition = serde_json::to_string(&flag("x")).expect("json");
    let mut tx = app.svc.db.pool.begin().await.expect("tx");
    for i in 0..MAX_FLAGS_PER_SCOPE {
        sqlx::query(
            "INSERT INTO flags (id, tenant_id, key, definition, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, 0)",
        )
        .bind(format!("bulk-{i}"))
        .bind(tenant.as_str())
        .bind(format!("bulk.{i}"))
        .bind(&definition)
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let r = flags::create(&app.svc, &admin, &scope, flag("one-more")).await;
    assert!(
        matches!(&r, Err(ServiceError::Conflict(m)) if m.contains("at most 500")),
        "{r:?}"
    );
    app
}

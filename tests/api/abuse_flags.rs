//! Issue 21, items 14 and 17 (flags), on both backends: a tenant keeps a
//! bounded number of flags, each bounded in bytes, and a split's weights
//! cannot overflow. Before, all three were unbounded. A change is audited
//! as a diff, not the flag twice, and the cache reloads only the rows
//! written since it last loaded, not every flag of every tenant.

use atrium::domain::flag::{Flag, FlagKey, Rule, Weighted, MAX_FLAGS_PER_SCOPE};
use atrium::server::services::flags::{self, Change, Scope};
use atrium::server::services::{tenants, Actor, ServiceError};

use crate::common::TestApp;
use crate::gateway::tenant_with_key;

on_both_backends!(
    tenant_flags_are_bounded,
    a_change_is_audited_as_a_diff_and_reloads_only_its_row
);

async fn a_change_is_audited_as_a_diff_and_reloads_only_its_row(app: TestApp) -> TestApp {
    let admin = Actor::system("test");
    let flag = |k: &str| Flag::boolean(FlagKey::parse(k).expect("key"), k);
    let (one, _) = tenant_with_key(&app, "Diffed One", 100, "eu-west").await;
    let (two, _) = tenant_with_key(&app, "Diffed Two", 100, "eu-west").await;
    let (s1, s2) = (Scope::Tenant(one.clone()), Scope::Tenant(two.clone()));
    let mut big = flag("big");
    big.rules = vec![Rule::Targets {
        keys: (0..1_000).map(|i| format!("user-{i:0>100}")).collect(),
        variant: "on".into(),
    }];
    flags::create(&app.svc, &admin, &s1, big)
        .await
        .expect("big");
    flags::create(&app.svc, &admin, &s2, flag("other"))
        .await
        .expect("other");
    let key = FlagKey::parse("big").expect("key");
    flags::change(&app.svc, &admin, &s1, &key, Change::Rollout(20))
        .await
        .expect("rollout");
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'flag.rollout' AND tenant_id = $1",
    )
    .bind(one.as_str())
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("audited");
    assert!(
        details.len() < 1_000,
        "a diff, not the 100 KB flag twice: {details}"
    );
    let summary = "rollout none → 20%, rules changed (1 → 2)";
    assert!(details.contains(summary), "{details}");
    let history = flags::history(&app.svc, &admin, &s1, &key)
        .await
        .expect("history");
    assert_eq!(history[0].summary, summary);

    // Another tenant's row, damaged behind the service's back, is not read
    // again: a change elsewhere reloads only its own row.
    sqlx::query("UPDATE flags SET definition = 'not json' WHERE tenant_id = $1")
        .bind(two.as_str())
        .execute(&app.svc.db.pool)
        .await
        .expect("damage");
    flags::change(&app.svc, &admin, &s1, &key, Change::Enable(false))
        .await
        .expect("disable");
    let set = flags::snapshot(&app.svc);
    assert_eq!(set.tenant(&one, "big").map(|f| f.enabled), Some(false));
    assert!(set.tenant(&two, "other").is_some(), "kept from before");

    // Rows that leave with their tenant leave the cache too.
    sqlx::query("UPDATE flags SET definition = $1 WHERE tenant_id = $2")
        .bind(serde_json::to_string(&flag("other")).expect("json"))
        .bind(two.as_str())
        .execute(&app.svc.db.pool)
        .await
        .expect("mend");
    tenants::delete(&app.svc, &admin, &two, "Diffed Two")
        .await
        .expect("delete");
    let set = flags::snapshot(&app.svc);
    assert!(set.tenant(&two, "other").is_none(), "gone with its tenant");
    assert!(set.tenant(&one, "big").is_some());
    app
}

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

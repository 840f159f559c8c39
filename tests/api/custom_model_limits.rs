//! What one tenant can make the platform hold (issue 13), on SQLite and
//! PostgreSQL: at most 1,000 custom model versions that are not retired.

use crate::common::TestApp;
use crate::custom_models::pool_of_three;
use atrium::server::services::{custom_models, tenants, Actor, ServiceError};

on_both_backends!(a_tenant_keeps_a_bounded_number_of_versions,);

async fn a_tenant_keeps_a_bounded_number_of_versions(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 0).await;
    let system = Actor::system("test");
    let tenant = tenants::find(&app.svc, &system, "Lora Co")
        .await
        .expect("tenant")
        .id;
    // 1,000 versions, written straight to the table: registering each would
    // validate each, which is not what this test is about.
    let mut tx = app.svc.db.pool.begin().await.expect("tx");
    for v in 1..=1000_i64 {
        let status = if v == 1 { "retired" } else { "ready" };
        sqlx::query(
            "INSERT INTO custom_models (id, tenant_id, name, version, base_model, adapter, \
             target_modules, fine_tune_config, status, markup_percent, created_at, updated_at) \
             VALUES ($1, $2, 'bulk', $3, 'tiny-llama', '/a', '[]', '{}', $4, 20, 0, 0)",
        )
        .bind(format!("bulk{v}"))
        .bind(tenant.as_str())
        .bind(v)
        .bind(status)
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let adapter = crate::lora::fixture_for(&tenant);
    let new = |name: &str| custom_models::NewCustomModel {
        tenant_id: tenant.clone(),
        name: name.into(),
        base_model: "tiny-llama".into(),
        adapter: adapter.clone(),
        version: None,
        fine_tune_config: None,
        training: false,
        input_per_mtok: None,
        output_per_mtok: None,
        markup_percent: None,
        hosting_fee_micros: 0,
    };
    // 999 not retired: one more fits, the next does not.
    let m = custom_models::register(&app.svc, &system, new("one-more"))
        .await
        .expect("fits");
    assert_eq!(m.version, 1);
    let refused = custom_models::register(&app.svc, &system, new("too-many")).await;
    assert!(
        matches!(refused, Err(ServiceError::Conflict(_))),
        "{refused:?}"
    );
    app
}

//! Issue 21, items 10, 11 and 17 (custom models), on both backends: one
//! tenant cannot take over a shared pool (pinning is the platform's,
//! deploys are bounded per pool and gated by `models.custom`, a pool needs
//! vLLM's `--max-loras`), pools follow the data-location rule, and a
//! tenant sets neither prices nor versions that break its pages.

use atrium::domain::role::Role;
use atrium::domain::tenant::TenantId;
use atrium::server::services::custom_models::{self, lifecycle, NewCustomModel};
use atrium::server::services::{tenants, Actor, ServiceError};
use serde_json::json;

use crate::cli::atrium;
use crate::common::TestApp;
use crate::custom_models::pool_of_three;
use crate::gateway::tenant_with_key;
use crate::lora::{ask, register};

on_both_backends!(
    a_pool_needs_a_region_and_a_bounded_max_loras,
    pools_follow_the_data_location_rule,
    a_tenant_cannot_take_over_a_shared_pool,
    tenants_set_no_prices_and_no_unbounded_versions,
    hosting_is_billed_by_the_hour_served,
);

async fn lora_co(app: &TestApp) -> TenantId {
    tenants::find(&app.svc, &Actor::system("test"), "Lora Co")
        .await
        .expect("tenant")
        .id
}

pub(crate) fn tenant_admin(tenant: &TenantId) -> Actor {
    Actor {
        user_id: Some("admin".into()),
        label: "admin@lora.test".into(),
        role: Role::TenantAdmin,
        tenant_id: Some(tenant.clone()),
        client_ip: None,
    }
}

async fn a_pool_needs_a_region_and_a_bounded_max_loras(app: TestApp) -> TestApp {
    let base = [
        "pool",
        "add",
        "--name",
        "pool-a",
        "--base-model",
        "tiny-llama",
    ];
    let endpoint = ["--endpoint", "http://127.0.0.1:9/v1"];
    let without_region = atrium(&app, &[&base[..], &endpoint[..]].concat(), None);
    assert!(!without_region.status.success(), "--region is required");
    let unlimited = [
        &base[..],
        &endpoint[..],
        &["--region", "any", "--max-loras", "0"][..],
    ]
    .concat();
    let out = atrium(&app, &unlimited, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_loras"));
    let json = [
        &base[..],
        &endpoint[..],
        &["--region", "eu-west", "--json"][..],
    ]
    .concat();
    let pool: serde_json::Value =
        serde_json::from_slice(&atrium(&app, &json, None).stdout).expect("pool");
    assert_eq!(
        (pool["max_loras"].as_i64(), pool["region"].as_str()),
        (Some(1), Some("eu-west"))
    );
    app
}

/// Before, pool engines were providers of region `any`: a tenant pinned
/// to another region reached them.
async fn pools_follow_the_data_location_rule(app: TestApp) -> TestApp {
    let (_engines, eu_key) = pool_of_three(&app, 4).await; // engines in eu-west
    let (_, us_key) = tenant_with_key(&app, "Elsewhere", 1_000, "us-east").await;
    // The server serves the pool's base model once its catalog has it.
    let path = "/v1/chat/completions";
    let within = std::time::Duration::from_secs(5);
    crate::lora::until_status(&app, &eu_key, path, "tiny-llama", 200, within).await;
    let r = crate::common::plain_client()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&us_key)
        .json(&ask("tiny-llama"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status(),
        403,
        "a us-east tenant does not reach eu-west engines"
    );
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body.to_string().contains("data location"), "{body}");
    app
}

async fn a_tenant_cannot_take_over_a_shared_pool(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let tenant = lora_co(&app).await;
    register(&app, "support-bot").await;
    let admin = tenant_admin(&tenant);
    let pinned = lifecycle::pin(&app.svc, &admin, &tenant, "support-bot:1", true).await;
    assert!(matches!(pinned, Err(ServiceError::Forbidden)), "{pinned:?}");
    // Eight versions already served from the pool: a ninth is refused.
    let mut tx = app.svc.db.pool.begin().await.expect("tx");
    for v in 10..18_i64 {
        sqlx::query(
            "INSERT INTO custom_models (id, tenant_id, name, version, base_model, adapter, \
             target_modules, fine_tune_config, status, markup_percent, created_at, updated_at) \
             VALUES ($1, $2, 'crowd', $3, 'tiny-llama', '/a', '[]', '{}', 'deployed', 20, 0, 0)",
        )
        .bind(format!("crowd{v}"))
        .bind(tenant.as_str())
        .bind(v)
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let ninth = lifecycle::deploy(&app.svc, &admin, &tenant, "support-bot:1").await;
    assert!(
        matches!(&ninth, Err(ServiceError::Conflict(m)) if m.contains("at most 8")),
        "{ninth:?}"
    );
    // Without models.custom, neither registering nor deploying.
    crate::flags::cli(&app, &["flag", "disable", "models.custom"]);
    let refused = lifecycle::deploy(&app.svc, &admin, &tenant, "support-bot:1").await;
    assert!(
        matches!(&refused, Err(ServiceError::Conflict(m)) if m.contains("models.custom")),
        "{refused:?}"
    );
    let out = atrium(
        &app,
        &[
            "custom-model",
            "register",
            "--tenant",
            "Lora Co",
            "--name",
            "late",
            "--base-model",
            "tiny-llama",
            "--adapter",
            &crate::lora::fixture_for(&tenant),
            "--json",
        ],
        None,
    );
    assert!(!out.status.success(), "registering needs models.custom too");
    app
}

async fn tenants_set_no_prices_and_no_unbounded_versions(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let tenant = lora_co(&app).await;
    let new = |version: Option<u32>, hosting_fee_micros: i64| NewCustomModel {
        tenant_id: tenant.clone(),
        name: "priced".into(),
        base_model: "tiny-llama".into(),
        adapter: crate::lora::fixture_for(&tenant),
        version,
        fine_tune_config: Some(json!({})),
        training: true,
        input_per_mtok: None,
        output_per_mtok: None,
        markup_percent: None,
        hosting_fee_micros,
    };
    let admin = tenant_admin(&tenant);
    let fee = custom_models::register(&app.svc, &admin, new(None, 1)).await;
    assert!(
        matches!(&fee, Err(ServiceError::Invalid(e)) if e.to_string().contains("platform admins")),
        "{fee:?}"
    );
    let system = Actor::system("test");
    let huge = custom_models::register(&app.svc, &system, new(Some(u32::MAX), 0)).await;
    assert!(
        matches!(&huge, Err(ServiceError::Invalid(e)) if e.to_string().contains("version")),
        "{huge:?}"
    );
    let listed = custom_models::list(&app.svc, &admin, &tenant).await;
    assert!(listed.is_ok(), "the tenant's pages still load: {listed:?}");
    app
}

/// Before, one sample a day (taken early) billed custom models and their
/// hosting fees, so a schedule that undeployed around it paid nothing:
/// every hour a version is served is billed, however briefly.
async fn hosting_is_billed_by_the_hour_served(app: TestApp) -> TestApp {
    use atrium::domain::meter::{Meter, DAY_MS, HOUR_MS};
    use atrium::domain::time::now_millis;
    use atrium::server::services::meters;
    let (_engines, _key) = pool_of_three(&app, 4).await;
    let tenant = lora_co(&app).await;
    let register = [
        "custom-model",
        "register",
        "--tenant",
        "Lora Co",
        "--name",
        "nightly",
        "--base-model",
        "tiny-llama",
        "--adapter",
        &crate::lora::fixture_for(&tenant),
        "--hosting-fee",
        "30",
        "--json",
    ];
    assert!(atrium(&app, &register, None).status.success());
    let system = Actor::system("test");
    lifecycle::deploy(&app.svc, &system, &tenant, "nightly")
        .await
        .expect("deploy");
    lifecycle::undeploy(&app.svc, &system, &tenant, "nightly:1")
        .await
        .expect("undeploy");
    // Flapping within the hour reopens the hour's stretch: no new rows.
    for _ in 0..5 {
        lifecycle::deploy(&app.svc, &system, &tenant, "nightly:1")
            .await
            .expect("deploy again");
        lifecycle::undeploy(&app.svc, &system, &tenant, "nightly:1")
            .await
            .expect("undeploy again");
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM custom_model_served WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_one(&app.svc.db.pool)
            .await
            .expect("rows");
    assert!(
        rows <= 2,
        "one stretch per hour touched, not per deploy: {rows}"
    );
    // Yesterday, a version served from 10:00 to 12:30 (three hours).
    let yesterday = (now_millis() / DAY_MS - 1) * DAY_MS;
    sqlx::query(
        "INSERT INTO custom_model_served (model_id, tenant_id, hosting_fee_micros, served_from, \
         served_to) VALUES ('old', $1, 60000000, $2, $3)",
    )
    .bind(tenant.as_str())
    .bind(yesterday + 10 * HOUR_MS)
    .bind(yesterday + 12 * HOUR_MS + HOUR_MS / 2)
    .execute(&app.svc.db.pool)
    .await
    .expect("stretch");
    sqlx::query("UPDATE tenants SET created_at = $1 WHERE id = $2")
        .bind(yesterday)
        .bind(tenant.as_str())
        .execute(&app.svc.db.pool)
        .await
        .expect("created");
    let samples = meters::samples(
        &app.svc,
        &system,
        &tenant,
        yesterday,
        yesterday + 2 * DAY_MS,
    )
    .await
    .expect("samples");
    let value = |meter, day| {
        samples
            .iter()
            .find(|s| s.meter == meter && s.day == day)
            .map(|s| s.value)
    };
    let today = yesterday + DAY_MS;
    assert_eq!(
        value(Meter::CustomModels, yesterday),
        Some(3),
        "{samples:?}"
    );
    assert_eq!(value(Meter::HostingFees, yesterday), Some(3 * 60_000_000));
    // Deployed and undeployed at once today: still this hour (an undeploy
    // across an hour's end would make it two).
    let hours = value(Meter::CustomModels, today).unwrap_or(0);
    assert!((1..=2).contains(&hours), "{samples:?}");
    assert_eq!(value(Meter::HostingFees, today), Some(hours * 30_000_000));
    app
}

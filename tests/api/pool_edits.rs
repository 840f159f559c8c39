//! Pools after they are made (issue 13), on SQLite and PostgreSQL: an
//! engine joins a pool and the reconciler loads its adapters onto it; a
//! pool with something deployed cannot be removed, and once removed its
//! engines still serve the base model.

use std::time::Duration;

use serde_json::json;

use crate::cli::{atrium, cli_json};
use crate::common::TestApp;
use crate::custom_models::{deploy, eventually, pool_of_three, register, until_status, Engine};

on_both_backends!(an_engine_joins_and_the_pool_goes,);

async fn an_engine_joins_and_the_pool_goes(app: TestApp) -> TestApp {
    let (_engines, key) = pool_of_three(&app, 0).await;
    register(&app, "support-bot").await;
    let adapter = deploy(&app, "support-bot");

    // A fourth engine joins: the server's reconciler loads the adapter there.
    let fourth = Engine::start(0).await;
    let p = cli_json(
        &app,
        &[
            "pool",
            "add-endpoint",
            "lora",
            "--endpoint",
            &fourth.url(),
            "--json",
        ],
    );
    assert_eq!(p["endpoints"].as_array().map(Vec::len), Some(4), "{p}");
    let again = atrium(
        &app,
        &["pool", "add-endpoint", "lora", "--endpoint", &fourth.url()],
        None,
    );
    assert!(!again.status.success(), "an engine joins a pool once");
    eventually(
        "the new engine holds the adapter",
        Duration::from_secs(10),
        || async { fourth.loaded().await == [adapter.clone()] },
    )
    .await;

    // Not removable while a version is deployed on it.
    let refused = atrium(&app, &["pool", "remove", "lora"], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("undeploy or retire"));
    cli_json(
        &app,
        &[
            "custom-model",
            "undeploy",
            "support-bot",
            "--tenant",
            "Lora Co",
            "--json",
        ],
    );
    let removed = atrium(&app, &["pool", "remove", "lora"], None);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let listed = cli_json(&app, &["pool", "list", "--json"]);
    assert_eq!(listed["pools"], json!([]), "{listed}");

    // Its engines still serve the base model to tenants.
    until_status(
        &app,
        &key,
        "/v1/chat/completions",
        "tiny-llama",
        200,
        Duration::from_secs(2),
    )
    .await;
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_events WHERE action LIKE 'pool.%' ORDER BY at")
            .fetch_all(&app.svc.db.pool)
            .await
            .expect("audit");
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["pool.create", "pool.add_endpoint", "pool.remove"]);
    app
}

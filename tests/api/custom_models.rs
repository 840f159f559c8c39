//! Custom models (issue 13) on SQLite and PostgreSQL, against three real
//! `atrium mock-upstream --kind vllm` engines in one pool: registration
//! and validation of a real PEFT adapter, deploy to every engine, routing
//! in both dialects, isolation between tenants, the `models.custom` flag,
//! and the audit trail.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{atrium, cli_json};
use crate::common::TestApp;
use crate::gateway::{post, tenant_with_key};
pub(crate) use crate::lora::*;

on_both_backends!(register_deploy_and_route,);

async fn register_deploy_and_route(app: TestApp) -> TestApp {
    let (engines, key) = pool_of_three(&app, 0).await;
    let fixture = crate::lora::lora_co_fixture(&app).await;
    let m = cli_json(
        &app,
        &[
            "custom-model",
            "register",
            "--tenant",
            "Lora Co",
            "--name",
            "support-bot",
            "--base-model",
            "tiny-llama",
            "--adapter",
            &fixture,
            "--hosting-fee",
            "30",
            "--json",
        ],
    );
    assert_eq!(
        (m["status"].as_str(), m["rank"].as_u64()),
        (Some("ready"), Some(2)),
        "{m}"
    );
    assert_eq!(m["target_modules"], json!(["q_proj", "v_proj"]));

    // A rank over the pool's limit, and a corrupt weights file: failed, with the reason.
    // In Lora Co's own folder of the adapter roots, beside the fixture.
    let home = std::path::Path::new(&fixture).parent().expect("folder");
    let dir = tempfile::tempdir_in(home).expect("dir");
    let config = std::fs::read_to_string(format!("{fixture}/adapter_config.json")).expect("config");
    std::fs::write(
        dir.path().join("adapter_config.json"),
        config.replace("\"r\": 2", "\"r\": 128"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("adapter_model.safetensors"),
        b"\xff\xff\xff\xff\xff\xff\xff\x7f",
    )
    .expect("write");
    let path = dir.path().display().to_string();
    let bad = cli_json(
        &app,
        &[
            "custom-model",
            "register",
            "--tenant",
            "Lora Co",
            "--name",
            "too-big",
            "--base-model",
            "tiny-llama",
            "--adapter",
            &path,
            "--json",
        ],
    );
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("max_lora_rank 64"),
        "{bad}"
    );
    std::fs::write(dir.path().join("adapter_config.json"), config).expect("write");
    // Outside the operator's adapter roots nothing is read or revealed,
    // whether the path exists or not, and nothing is registered.
    for outside in ["/etc", "/nonexistent/adapter", "/tmp/../etc"] {
        let out = atrium(
            &app,
            &[
                "custom-model",
                "register",
                "--tenant",
                "Lora Co",
                "--name",
                "probe",
                "--base-model",
                "tiny-llama",
                "--adapter",
                outside,
            ],
            None,
        );
        assert!(!out.status.success(), "{outside}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("adapter roots"), "{outside}: {err}");
    }
    let corrupt = cli_json(
        &app,
        &[
            "custom-model",
            "validate",
            "too-big",
            "--tenant",
            "Lora Co",
            "--json",
        ],
    );
    assert_eq!(corrupt["status"], "failed");
    assert!(
        corrupt["status_reason"]
            .as_str()
            .unwrap_or("")
            .contains("safetensors"),
        "{corrupt}"
    );
    let refused = atrium(
        &app,
        &["custom-model", "deploy", "too-big", "--tenant", "Lora Co"],
        None,
    );
    assert!(
        !refused.status.success(),
        "a failed version cannot be deployed"
    );

    // Deploy: every engine has it, under Atrium's name for the version.
    let d = cli_json(
        &app,
        &[
            "custom-model",
            "deploy",
            "support-bot",
            "--tenant",
            "Lora Co",
            "--json",
        ],
    );
    assert_eq!(
        (d["status"].as_str(), d["active"].as_bool()),
        (Some("deployed"), Some(true)),
        "{d}"
    );
    let engine_name = format!("atrium-{}", d["id"].as_str().unwrap_or(""));
    for e in &engines {
        assert_eq!(e.loaded().await, std::slice::from_ref(&engine_name));
    }

    // Both dialects reach the adapter by the custom name, streaming too.
    until_status(
        &app,
        &key,
        "/v1/messages",
        "support-bot",
        200,
        Duration::from_secs(2),
    )
    .await;
    let r = post(&app, "/v1/chat/completions", &key, ask("support-bot:1")).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["model"], "support-bot:1");
    let mut asked = Vec::new();
    for e in &engines {
        asked.extend(e.last_model().await);
    }
    assert!(asked.contains(&engine_name), "{asked:?}");
    let mut streamed = ask("support-bot");
    streamed["stream"] = json!(true);
    let r = post(&app, "/v1/messages", &key, streamed).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").contains("message_stop"));

    // Another tenant's key: not found, exactly as for a name nobody has.
    let (_, other) = tenant_with_key(&app, "Other Co", 1000, "eu-west").await;
    let theirs = post(&app, "/v1/messages", &other, ask("support-bot")).await;
    assert_eq!(theirs.status(), 404);
    let nobody = post(&app, "/v1/messages", &other, ask("no-such-model")).await;
    let (a, b): (Value, Value) = (
        theirs.json().await.expect("j"),
        nobody.json().await.expect("j"),
    );
    assert_eq!(a["error"]["type"], b["error"]["type"]);

    // The flag gates it: off for the tenant, refused in its dialect.
    crate::flags::cli(
        &app,
        &["flag", "target", "models.custom", "--tenants", "Other Co"],
    );
    until_status(
        &app,
        &key,
        "/v1/messages",
        "support-bot",
        403,
        Duration::from_secs(2),
    )
    .await;

    // Usage breaks down by custom model and version; the day's meters count
    // the deployed version and its hosting fee.
    app.running.gateway.ledger.flush().await;
    let report = cli_json(&app, &["usage", "report", "--tenant", "Lora Co", "--json"]);
    assert!(
        report["by_model"]["support-bot:1"]["requests"].as_u64() >= Some(3),
        "{report}"
    );
    // Metrics name it by its base model: `name:version` is the tenant's to
    // choose and would mint label values (issue 21, item 17).
    let metrics = app.metrics().await;
    assert!(!metrics.contains("model=\"support-bot"), "{metrics}");
    assert!(metrics.contains("model=\"tiny-llama\""), "{metrics}");
    cli_json(&app, &["usage", "sample-meters", "--json"]);
    let month = atrium::domain::invoice::Month::of(atrium::domain::time::now_millis()).to_string();
    let meters = cli_json(
        &app,
        &[
            "usage", "meters", "--tenant", "Lora Co", "--month", &month, "--json",
        ],
    );
    let value = |meter: &str| {
        meters
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["meter"] == meter)
            .map(|r| r["value"].clone())
    };
    assert_eq!(value("custom_models"), Some(json!(1)), "{meters}");
    assert_eq!(value("hosting_fees"), Some(json!(30_000_000)), "{meters}");

    // Every change is audited.
    let rows: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_events ORDER BY at")
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("audit");
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    for a in [
        "pool.create",
        "custom_model.register",
        "custom_model.validate",
        "custom_model.deploy",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }

    // DESIGN §1 step 4: a tenant alias comes before a custom model of the
    // same name (and the catalog model it names is not gated by the flag).
    crate::flags::cli(
        &app,
        &[
            "model",
            "alias",
            "--tenant",
            "Lora Co",
            "--alias",
            "support-bot",
            "--model",
            "tiny-llama",
        ],
    );
    until_status(
        &app,
        &key,
        "/v1/messages",
        "support-bot",
        200,
        Duration::from_secs(2),
    )
    .await;
    let mut asked = Vec::new();
    for e in &engines {
        asked.extend(e.last_model().await);
    }
    assert!(asked.contains(&"tiny-llama".to_string()), "{asked:?}");
    app
}

//! Custom models on their engines (issue 13), on SQLite and PostgreSQL,
//! with three real mock vLLM engines in one pool: the reconciler repairs
//! an engine that restarted and forgot; version 2 takes over a name under
//! continuous load with no failed request, and rollback switches back; a
//! full pool evicts the least recently used adapter, never a pinned one,
//! and loads an evicted one again when a request needs it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::cli_json;
use crate::common::TestApp;
use crate::custom_models::{
    ask, deploy, eventually, fixture, pool_of_three, register, until_status,
};
use crate::gateway::post;

on_both_backends!(
    engines_restart_switch_and_evict,
    deprecated_versions_warn_then_retire,
    the_mock_engine_speaks_vllm,
);

async fn engines_restart_switch_and_evict(app: TestApp) -> TestApp {
    let (mut engines, key) = pool_of_three(&app, 2).await;
    register(&app, "support-bot").await;
    let v1 = deploy(&app, "support-bot");

    // An engine restarts and forgets: the reconciler loads it again.
    // (The repair can land before this test looks at the engine, so the
    // server's repair count shows that it happened.)
    let repairs = || {
        app.svc
            .pools
            .endpoints()
            .into_iter()
            .find(|e| e.provider == "lora-2")
            .map_or(0, |e| e.repairs)
    };
    let before = repairs();
    engines[1].restart().await;
    eventually(
        "the restarted engine is repaired",
        Duration::from_secs(10),
        || async { repairs() > before && engines[1].loaded().await == [v1.clone()] },
    )
    .await;

    // Continuous load on the bare name while version 2 is deployed.
    until_status(
        &app,
        &key,
        "/v1/chat/completions",
        "support-bot",
        200,
        Duration::from_secs(2),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (app_url, key, stop, sent, failed) = (
            app.url("/v1/chat/completions"),
            key.clone(),
            stop.clone(),
            sent.clone(),
            failed.clone(),
        );
        load.push(tokio::spawn(async move {
            let client = crate::common::plain_client();
            while !stop.load(Ordering::SeqCst) {
                let r = client
                    .post(&app_url)
                    .bearer_auth(&key)
                    .json(&ask("support-bot"))
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::SeqCst);
                if !r.is_ok_and(|r| r.status() == 200) {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    register(&app, "support-bot").await;
    // The bare name deploys the newest ready version: version 2.
    let v2 = deploy(&app, "support-bot");
    // Requests for the name reach version 2 once the server has the change.
    let upstream = || async {
        let mut seen = Vec::new();
        for e in &engines {
            seen.extend(e.last_model().await);
        }
        seen
    };
    eventually(
        "the name serves version 2",
        Duration::from_secs(3),
        || async {
            let r = post(&app, "/v1/chat/completions", &key, ask("support-bot")).await;
            let body: Value = r.json().await.unwrap_or_default();
            body["model"] == "support-bot" && upstream().await.contains(&v2)
        },
    )
    .await;
    let r = cli_json(
        &app,
        &[
            "custom-model",
            "rollback",
            "support-bot",
            "--tenant",
            "Lora Co",
            "--json",
        ],
    );
    assert_eq!(
        (r["version"].as_u64(), r["active"].as_bool()),
        (Some(1), Some(true)),
        "{r}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await.expect("load task");
    }
    assert!(sent.load(Ordering::SeqCst) > 20, "the load ran");
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request failed across the switches"
    );

    // The pool holds two adapters per engine. Pin v1; a third model evicts
    // v2 (least recently used), never v1.
    cli_json(
        &app,
        &[
            "custom-model",
            "pin",
            "support-bot:1",
            "--tenant",
            "Lora Co",
            "--json",
        ],
    );
    register(&app, "other-bot").await;
    let other = deploy(&app, "other-bot");
    for e in &engines {
        let mut loaded = e.loaded().await;
        loaded.sort();
        let mut want = vec![v1.clone(), other.clone()];
        want.sort();
        assert_eq!(loaded, want, "v2 was evicted, pinned v1 stayed");
    }
    // Asking for v2 loads it again on demand, evicting other-bot, not v1.
    until_status(
        &app,
        &key,
        "/v1/chat/completions",
        "support-bot:2",
        200,
        Duration::from_secs(5),
    )
    .await;
    for e in &engines {
        let loaded = e.loaded().await;
        assert!(
            loaded.contains(&v1),
            "pinned v1 is never evicted: {loaded:?}"
        );
        assert!(
            !loaded.contains(&other),
            "other-bot was least recently used: {loaded:?}"
        );
    }
    app
}

/// A deprecated version keeps answering with Deprecation, Sunset and
/// Warning headers; when its grace ends the reconciler retires it, takes
/// it off every engine, and its name is no longer served.
async fn deprecated_versions_warn_then_retire(app: TestApp) -> TestApp {
    let (engines, key) = pool_of_three(&app, 0).await;
    register(&app, "support-bot").await;
    let v1 = deploy(&app, "support-bot");
    until_status(
        &app,
        &key,
        "/v1/chat/completions",
        "support-bot",
        200,
        Duration::from_secs(2),
    )
    .await;
    let d = cli_json(
        &app,
        &[
            "custom-model",
            "deprecate",
            "support-bot",
            "--tenant",
            "Lora Co",
            "--grace-hours",
            "0.001",
            "--json",
        ],
    );
    assert_eq!(d["status"], "deprecated", "{d}");
    eventually("deprecation headers", Duration::from_secs(2), || async {
        let r = post(&app, "/v1/messages", &key, ask("support-bot")).await;
        let h = r.headers();
        r.status() == 200
            && h.get("deprecation")
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with('@')))
            && h.get("sunset")
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.ends_with("GMT")))
            && h.get("warning")
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("deprecated")))
    })
    .await;
    // 3.6 s of grace, then one reconcile pass.
    until_status(
        &app,
        &key,
        "/v1/messages",
        "support-bot",
        404,
        Duration::from_secs(10),
    )
    .await;
    // The name stops being served when the retirement commits; the same
    // pass unloads it from the engines just after.
    for e in &engines {
        eventually(
            "a retired version is unloaded",
            Duration::from_secs(5),
            || async { !e.loaded().await.contains(&v1) },
        )
        .await;
    }
    let listed = cli_json(
        &app,
        &["custom-model", "list", "--tenant", "Lora Co", "--json"],
    );
    assert_eq!(listed[0]["status"], "retired", "{listed}");
    let retired: Vec<(String,)> =
        sqlx::query_as("SELECT actor FROM audit_events WHERE action = 'custom_model.retire'")
            .fetch_all(&app.svc.db.pool)
            .await
            .expect("audit");
    assert_eq!(retired.len(), 1, "retired once, by the reconciler");
    app
}

/// The mock engine's wire format, as vLLM's: runtime load and unload with
/// its texts and codes, the model list with parent and root, answers only
/// for the base model and loaded adapters, and its max-loras.
async fn the_mock_engine_speaks_vllm(app: TestApp) -> TestApp {
    let e = crate::custom_models::Engine::start(1).await;
    let client = crate::common::plain_client();
    let call = |path: &str, body: Value| {
        let req = client.post(format!("{}/{path}", e.url())).json(&body);
        async move {
            let r = req.send().await.expect("engine");
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
    };
    let adapter = fixture();
    let load = json!({ "lora_name": "a1", "lora_path": adapter });
    assert_eq!(
        call("load_lora_adapter", load.clone()).await,
        (
            200,
            "Success: LoRA adapter 'a1' added successfully.".to_string()
        )
    );
    let (status, text) = call("load_lora_adapter", load).await;
    assert_eq!(status, 400);
    assert!(text.contains("has already been loaded"), "{text}");
    let (status, _) = call(
        "load_lora_adapter",
        json!({ "lora_name": "a2", "lora_path": adapter }),
    )
    .await;
    assert_eq!(status, 400, "max-loras 1");
    let (status, text) = call(
        "load_lora_adapter",
        json!({ "lora_name": "a3", "lora_path": "/no/such" }),
    )
    .await;
    assert_eq!(status, 404, "{text}");
    let models: Value = client
        .get(format!("{}/models", e.url()))
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    assert_eq!(models["data"][1]["parent"], "tiny-llama");
    assert_eq!(models["data"][1]["root"], json!(adapter));
    let chat =
        |model: &str| json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] });
    assert_eq!(call("chat/completions", chat("a1")).await.0, 200);
    assert_eq!(call("chat/completions", chat("tiny-llama")).await.0, 200);
    let (status, text) = call("chat/completions", chat("nope")).await;
    assert_eq!(status, 404);
    assert!(text.contains("does not exist"), "{text}");
    assert_eq!(
        call("unload_lora_adapter", json!({ "lora_name": "a1" }))
            .await
            .0,
        200
    );
    let (status, text) = call("unload_lora_adapter", json!({ "lora_name": "a1" })).await;
    assert_eq!(status, 404);
    assert!(text.contains("cannot be found"), "{text}");
    assert_eq!(
        call("chat/completions", chat("a1")).await.0,
        404,
        "unloaded: not served"
    );
    app
}

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
use crate::custom_models::{eventually, fixture, pool_of_three};
use crate::gateway::post;

on_both_backends!(engines_restart_switch_and_evict,);

fn register(app: &TestApp, name: &str) -> Value {
    let f = fixture();
    let m = cli_json(
        app,
        &[
            "custom-model",
            "register",
            "--tenant",
            "Lora Co",
            "--name",
            name,
            "--base-model",
            "tiny-llama",
            "--adapter",
            &f,
            "--json",
        ],
    );
    assert_eq!(m["status"], "ready", "{m}");
    m
}

fn deploy(app: &TestApp, model: &str) -> String {
    let d = cli_json(
        app,
        &[
            "custom-model",
            "deploy",
            model,
            "--tenant",
            "Lora Co",
            "--json",
        ],
    );
    assert_eq!(d["status"], "deployed", "{d}");
    format!("atrium-{}", d["id"].as_str().unwrap_or(""))
}

fn ask(model: &str) -> Value {
    json!({ "model": model, "max_tokens": 8, "messages": [{ "role": "user", "content": "hi" }] })
}

async fn engines_restart_switch_and_evict(app: TestApp) -> TestApp {
    let (mut engines, key) = pool_of_three(&app, 2).await;
    register(&app, "support-bot");
    let v1 = deploy(&app, "support-bot");

    // An engine restarts and forgets: the reconciler loads it again.
    engines[1].restart().await;
    assert!(engines[1].loaded().await.is_empty());
    eventually(
        "the restarted engine is repaired",
        Duration::from_secs(10),
        || async { engines[1].loaded().await == [v1.clone()] },
    )
    .await;

    // Continuous load on the bare name while version 2 is deployed.
    eventually(
        "the server routes support-bot",
        Duration::from_secs(2),
        || async {
            post(&app, "/v1/chat/completions", &key, ask("support-bot"))
                .await
                .status()
                == 200
        },
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
    register(&app, "support-bot");
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
    register(&app, "other-bot");
    let other = deploy(&app, "other-bot");
    for e in &engines {
        let mut loaded = e.loaded().await;
        loaded.sort();
        let mut want = vec![v1.clone(), other.clone()];
        want.sort();
        assert_eq!(loaded, want, "v2 was evicted, pinned v1 stayed");
    }
    // Asking for v2 loads it again on demand, evicting other-bot, not v1.
    eventually("v2 served again", Duration::from_secs(5), || async {
        post(&app, "/v1/chat/completions", &key, ask("support-bot:2"))
            .await
            .status()
            == 200
    })
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

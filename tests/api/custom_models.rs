//! Custom models (issue 13) on SQLite and PostgreSQL, against three real
//! `atrium mock-upstream --kind vllm` engines in one pool: registration
//! and validation of a real PEFT adapter, deploy to every engine, routing
//! in both dialects, isolation between tenants, the `models.custom` flag,
//! and the audit trail.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::{atrium, cli_json};
use crate::common::TestApp;
use crate::gateway::{post, tenant_with_key};

on_both_backends!(register_deploy_and_route,);

/// One mock vLLM engine, a child process, on a port it keeps across restarts.
pub(crate) struct Engine {
    port: u16,
    max_loras: usize,
    child: Option<Child>,
}

impl Engine {
    pub(crate) async fn start(max_loras: usize) -> Engine {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut e = Engine {
            port,
            max_loras,
            child: None,
        };
        e.spawn().await;
        e
    }

    async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_atrium"))
            .args([
                "mock-upstream",
                "--kind",
                "vllm",
                "--base-model",
                "tiny-llama",
            ])
            .args(["--addr", &format!("127.0.0.1:{}", self.port)])
            .args([
                "--max-loras",
                &self.max_loras.to_string(),
                "--forget-on-restart",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mock engine");
        self.child = Some(child);
        let started = Instant::now();
        while reqwest::get(format!("{}/models", self.url()))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "engine did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the engine and starts it again: it forgets every adapter.
    pub(crate) async fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn().await;
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The adapters the engine lists.
    pub(crate) async fn loaded(&self) -> Vec<String> {
        let v: Value = reqwest::get(format!("{}/models", self.url()))
            .await
            .expect("models")
            .json()
            .await
            .expect("json");
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| !m["parent"].is_null())
            .filter_map(|m| m["id"].as_str().map(String::from))
            .collect()
    }

    /// The model the engine was last asked for.
    pub(crate) async fn last_model(&self) -> Option<String> {
        let v: Value = reqwest::get(format!("http://127.0.0.1:{}/mock/last-request", self.port))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        v.pointer("/body/model")
            .and_then(Value::as_str)
            .map(String::from)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn fixture() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lora-tiny").to_string()
}

/// Three engines in pool `lora` for `tiny-llama`, and a tenant allowed
/// custom models with a key.
pub(crate) async fn pool_of_three(app: &TestApp, max_loras: usize) -> (Vec<Engine>, String) {
    let mut engines = Vec::new();
    for _ in 0..3 {
        engines.push(Engine::start(max_loras).await);
    }
    let mut args = vec![
        "pool".to_string(),
        "add".into(),
        "--name".into(),
        "lora".into(),
    ];
    args.extend(["--base-model".into(), "tiny-llama".into()]);
    args.extend(["--max-loras".into(), max_loras.to_string()]);
    for e in &engines {
        args.extend(["--endpoint".into(), e.url()]);
    }
    args.push("--json".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let pool = cli_json(app, &refs);
    assert_eq!(
        pool["endpoints"].as_array().map(Vec::len),
        Some(3),
        "{pool}"
    );
    let (_, key) = tenant_with_key(app, "Lora Co", 100_000, "eu-west").await;
    crate::flags::cli(
        app,
        &["flag", "target", "models.custom", "--tenants", "Lora Co"],
    );
    (engines, key)
}

pub(crate) async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ask(model: &str) -> Value {
    json!({ "model": model, "max_tokens": 20, "messages": [{ "role": "user", "content": "hello adapter" }] })
}

async fn register_deploy_and_route(app: TestApp) -> TestApp {
    let (engines, key) = pool_of_three(&app, 0).await;
    let fixture = fixture();
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
    let dir = tempfile::tempdir().expect("dir");
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
    eventually(
        "the server routes the new model",
        Duration::from_secs(2),
        || async {
            post(&app, "/v1/messages", &key, ask("support-bot"))
                .await
                .status()
                == 200
        },
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
    eventually(
        "the flag turns custom models off",
        Duration::from_secs(2),
        || async {
            post(&app, "/v1/messages", &key, ask("support-bot"))
                .await
                .status()
                == 403
        },
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
    eventually("the alias wins", Duration::from_secs(2), || async {
        post(&app, "/v1/messages", &key, ask("support-bot"))
            .await
            .status()
            == 200
    })
    .await;
    let mut asked = Vec::new();
    for e in &engines {
        asked.extend(e.last_model().await);
    }
    assert!(asked.contains(&"tiny-llama".to_string()), "{asked:?}");
    app
}

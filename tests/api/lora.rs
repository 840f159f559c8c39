//! Shared by the custom-model tests (issue 13): mock vLLM engines as child
//! processes on ports they keep across restarts, a pool of three for a
//! tenant allowed custom models, the fixture adapter, and waits.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::cli_json;
use crate::common::TestApp;
use crate::gateway::{post, tenant_with_key};

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

/// The fixture copied into `tenant`'s own folder of the adapter roots
/// (`<tmp>/<tenant id>/lora-tiny`): a tenant registers adapters from
/// there only. Copied once; the same path after.
pub(crate) fn fixture_for(tenant: &atrium::domain::tenant::TenantId) -> String {
    let dir = std::env::temp_dir().join(tenant.as_str()).join("lora-tiny");
    std::fs::create_dir_all(&dir).expect("tenant folder");
    for file in ["adapter_config.json", "adapter_model.safetensors"] {
        let to = dir.join(file);
        if !to.exists() {
            std::fs::copy(format!("{}/{file}", fixture()), &to).expect("copy fixture");
        }
    }
    dir.display().to_string()
}

/// The fixture in Lora Co's folder.
pub(crate) async fn lora_co_fixture(app: &TestApp) -> String {
    let system = atrium::server::services::Actor::system("test");
    let tenant = atrium::server::services::tenants::find(&app.svc, &system, "Lora Co")
        .await
        .expect("Lora Co");
    fixture_for(&tenant.id)
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
    // Engines without a limit (0) still get a pool limit: pools need one.
    let pool_max = if max_loras == 0 { 64 } else { max_loras };
    args.extend(["--max-loras".into(), pool_max.to_string()]);
    args.extend(["--region".into(), "eu-west".into()]);
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

pub(crate) fn ask(model: &str) -> Value {
    json!({ "model": model, "max_tokens": 20, "messages": [{ "role": "user", "content": "hello adapter" }] })
}

/// Waits until a request for `model` on `path` gets `status` (the server
/// follows CLI changes within its cache poll).
pub(crate) async fn until_status(
    app: &TestApp,
    key: &str,
    path: &str,
    model: &str,
    status: u16,
    within: Duration,
) {
    let what = format!("{model} on {path} answers {status}");
    eventually(&what, within, || async {
        post(app, path, key, ask(model)).await.status() == status
    })
    .await;
}

/// Registers the fixture as `name` for Lora Co; it validates as ready.
pub(crate) async fn register(app: &TestApp, name: &str) -> Value {
    let f = lora_co_fixture(app).await;
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

/// Deploys for Lora Co; returns the engine name of the deployed version.
pub(crate) fn deploy(app: &TestApp, model: &str) -> String {
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

//! SIGTERM under load loses no usage: the binary finishes in-flight
//! requests, flushes the ledger, and every response a client received has
//! its `usage_event`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

pub(crate) fn atrium(db: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atrium"));
    c.env("DATABASE_URL", db)
        .env("ATRIUM_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .env("ATRIUM_NO_DEMO", "1")
        .env_remove("REDIS_URL");
    c
}

pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run atrium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Starts a long-running subcommand and reads the `http://ADDR` it prints.
/// The caller owns the child and waits for or kills it.
#[allow(clippy::zombie_processes)]
pub(crate) fn start(cmd: &mut Command, marker: &str) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("process printed its address")
            .expect("line");
        if let Some(rest) = line.split(marker).nth(1) {
            let addr = rest
                .trim_start_matches("http://")
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            std::thread::spawn(move || for _ in lines {});
            return (child, addr);
        }
    }
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    [
        (
            "shutdown::sqlite::sigterm_under_load_loses_no_usage_events",
            "0",
        ),
        (
            "shutdown::sqlite::sigterm_on_shards_loses_no_usage_events",
            "2",
        ),
    ]
    .map(|(name, shards)| {
        libtest_mimic::Trial::test(name, move || {
            crate::common::watchdog::watched(name, || {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(4)
                    .enable_all()
                    .build()?
                    .block_on(sigterm_under_load_loses_no_usage_events(shards));
                Ok(())
            })
        })
    })
    .into()
}

/// `shards`: `ATRIUM_SERVE_SHARDS` for the server.
async fn sigterm_under_load_loses_no_usage_events(shards: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("atrium.db").display());
    let (mut mock, key) = prepare(&db, dir.path());
    let (mut server, addr) = start(
        atrium(&db, dir.path())
            .args(["serve"])
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("ATRIUM_SERVE_SHARDS", shards),
        "Atrium is running on ",
    );
    let received = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..16).map(|_| {
        let (received, stop, key) = (received.clone(), stop.clone(), key.clone());
        let url = format!("http://{addr}/v1/chat/completions");
        tokio::spawn(async move {
            let client = crate::common::plain_client();
            while !stop.load(Ordering::SeqCst) {
                let sent = client.post(&url).bearer_auth(&key)
                    .json(&json!({"model": "m", "messages": [{"role": "user", "content": "count me"}]}))
                    .send().await;
                match sent {
                    // A response counts once its whole body has arrived.
                    Ok(r) => if r.bytes().await.is_ok() { received.fetch_add(1, Ordering::SeqCst); },
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        })
    }).collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "graceful exit: {status:?}");
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.await;
    }
    let _ = mock.kill();

    let db = atrium::server::db::Db::connect(&db).await.expect("db");
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let received = received.load(Ordering::SeqCst) as i64;
    assert!(
        received > 50,
        "load reached the server ({received} responses)"
    );
    assert_eq!(events, received, "one usage_event per response received");
}

/// A mock provider, its model, a tenant with high limits and its key, set
/// up with the CLI as an operator would.
pub(crate) fn prepare(db: &str, dir: &std::path::Path) -> (Child, String) {
    let (mock, mock_addr) = start(
        atrium(db, dir).args([
            "mock-upstream",
            "--addr",
            "127.0.0.1:0",
            "--latency-ms",
            "15",
        ]),
        "listening on ",
    );
    run(atrium(db, dir).args([
        "provider",
        "add",
        "--name",
        "mock",
        "--kind",
        "openai",
        "--base-url",
        &format!("http://{mock_addr}/v1"),
    ]));
    run(atrium(db, dir).args([
        "model",
        "add",
        "--name",
        "m",
        "--provider",
        "mock",
        "--input-price-per-mtok",
        "1",
        "--output-price-per-mtok",
        "2",
    ]));
    run(atrium(db, dir).args([
        "tenant",
        "create",
        "--name",
        "Load",
        "--rpm",
        "1000000",
        "--tpm",
        "100000000",
    ]));
    let key: serde_json::Value = serde_json::from_str(&run(
        atrium(db, dir).args(["key", "create", "--tenant", "Load", "--json"])
    ))
    .expect("key json");
    let key = key["key"].as_str().unwrap_or_default().to_string();

    (mock, key)
}

//! The `atrium` binary's subcommands, on the same database as a running server.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use atrium::server::services::api_keys::{self, AuthError};
use common::TestApp;
use serde_json::Value;

on_both_backends!(cli_manages_tenants_keys_and_users);

fn atrium(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(args)
        .env("DATABASE_URL", &app.db_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run atrium");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("atrium output")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

async fn cli_manages_tenants_keys_and_users(app: TestApp) -> TestApp {
    let t = json(&atrium(
        &app,
        &[
            "tenant",
            "create",
            "--name",
            "Cli Co",
            "--isolation",
            "row_level",
            "--data-location",
            "us-east",
            "--rpm",
            "30",
            "--tpm",
            "9000",
            "--json",
        ],
        None,
    ));
    assert_eq!(
        (t["name"].as_str(), t["rpm_limit"].as_i64()),
        (Some("Cli Co"), Some(30))
    );
    let tid = t["id"].as_str().unwrap_or_default().to_string();

    let bad = atrium(
        &app,
        &["tenant", "create", "--name", "Cli Co", "--json"],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("already exists"));
    let bad = atrium(
        &app,
        &["tenant", "create", "--name", "X Y", "--isolation", "nope"],
        None,
    );
    assert!(!bad.status.success());

    let list = json(&atrium(&app, &["tenant", "list", "--json"], None));
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Keys by tenant name (any case) or id; the key is printed once.
    let k = json(&atrium(
        &app,
        &[
            "key",
            "create",
            "--tenant",
            "cli co",
            "--name",
            "ci",
            "--expires-in-days",
            "30",
            "--json",
        ],
        None,
    ));
    let key = k["key"].as_str().unwrap_or_default().to_string();
    assert!(key.starts_with("atr_"));
    // The running server sees a key the CLI created.
    let auth = api_keys::authenticate(&app.svc, &key)
        .await
        .expect("key works");
    assert_eq!(auth.tenant.id, tid);

    let keys = json(&atrium(
        &app,
        &["key", "list", "--tenant", &tid, "--json"],
        None,
    ));
    assert_eq!(keys[0]["status"], "active");
    assert!(!keys.to_string().contains(&key[17..]));

    let id = k["id"].as_str().unwrap_or_default();
    assert!(atrium(&app, &["key", "revoke", id], None).status.success());
    let started = std::time::Instant::now();
    while api_keys::authenticate(&app.svc, &key).await.is_ok() {
        assert!(
            started.elapsed().as_secs() < 2,
            "server sees the CLI's revocation within 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        api_keys::authenticate(&app.svc, &key).await.err(),
        Some(AuthError::Revoked)
    );

    let u = json(&atrium(
        &app,
        &[
            "user",
            "create",
            "--email",
            "ops@cli.io",
            "--role",
            "tenant_admin",
            "--tenant",
            "Cli Co",
            "--password-stdin",
            "--json",
        ],
        Some("cli-password-123\n"),
    ));
    assert_eq!(u["role"], "tenant_admin");
    let c = common::client();
    assert_eq!(app.sign_in(&c, "ops@cli.io", "cli-password-123").await, "/");

    let refused = atrium(&app, &["tenant", "delete", "Cli Co"], None);
    assert!(!refused.status.success(), "delete needs --yes");
    assert!(atrium(&app, &["tenant", "delete", "Cli Co", "--yes"], None)
        .status
        .success());
    assert_eq!(
        json(&atrium(&app, &["tenant", "list", "--json"], None)),
        serde_json::json!([])
    );

    let actors: Vec<String> = sqlx::query_scalar("SELECT DISTINCT actor FROM audit_events")
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("actors");
    assert!(
        actors.contains(&"cli".to_string()),
        "CLI changes are audited: {actors:?}"
    );
    app
}

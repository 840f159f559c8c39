//! The `atrium` binary's subcommands, on the same database as a running server.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use atrium::server::services::api_keys::{self, AuthError};
use common::TestApp;
use serde_json::Value;

on_both_backends!(
    cli_manages_tenants_keys_and_users,
    cli_moves_data_scans_pii_and_sets_policies
);

/// Runs `atrium ARGS` and reads its JSON output; a failure fails the test.
pub(crate) fn cli_json(app: &TestApp, args: &[&str]) -> Value {
    let out = atrium(app, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The tests' adapter roots as `ATRIUM_ADAPTER_ROOTS` (comma separated).
fn adapter_roots_env() -> String {
    let roots: Vec<String> = crate::common::adapter_roots()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    roots.join(",")
}

pub(crate) fn atrium(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(args)
        .env("DATABASE_URL", &app.db_url)
        // The server's secret key, as in a deployment: it keys the audit chain.
        .env("ATRIUM_DATA_DIR", &app.svc.config.data_dir)
        .env("RUST_LOG", "warn")
        .env("ATRIUM_ADAPTER_ROOTS", adapter_roots_env())
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
        actors
            .iter()
            .any(|a| a.starts_with("cli:") && a.contains('@')),
        "CLI changes are audited: {actors:?}"
    );
    app
}

async fn cli_moves_data_scans_pii_and_sets_policies(app: TestApp) -> TestApp {
    let t = json(&atrium(
        &app,
        &[
            "tenant",
            "create",
            "--name",
            "Mover",
            "--isolation",
            "database_per_tenant",
            "--json",
        ],
        None,
    ));
    assert_eq!(t["isolation"], "database_per_tenant");
    let data = json(&atrium(&app, &["tenant", "data", "Mover", "--json"], None));
    assert_eq!(data["level"], "database_per_tenant");
    assert_eq!(data["rows"][0], serde_json::json!(["usage_events", 0]));
    let moved = json(&atrium(
        &app,
        &[
            "tenant",
            "set-isolation",
            "mover",
            "schema_per_tenant",
            "--json",
        ],
        None,
    ));
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str()),
        (Some("database_per_tenant"), Some("schema_per_tenant"))
    );
    let again = atrium(
        &app,
        &["tenant", "set-isolation", "mover", "schema_per_tenant"],
        None,
    );
    assert!(
        !again.status.success(),
        "moving to the current level is refused"
    );

    let scan = atrium(
        &app,
        &["pii", "scan"],
        Some("mail bob@example.com, SSN 123-45-6789"),
    );
    let findings = json(&scan);
    let types: Vec<&str> = findings
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["entity_type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(types, vec!["EMAIL_ADDRESS", "US_SSN"]);
    assert_eq!(
        (findings[0]["start"].as_i64(), findings[0]["end"].as_i64()),
        (Some(5), Some(20))
    );
    let lines = atrium(
        &app,
        &["pii", "scan", "--jsonl"],
        Some("{\"text\": \"ip 10.0.0.1\"}\n{\"text\": \"nothing here\"}\n"),
    );
    let out = String::from_utf8_lossy(&lines.stdout).to_string();
    let parsed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0]["findings"][0]["entity_type"], "IP_ADDRESS");
    assert_eq!(parsed[1]["findings"], serde_json::json!([]));

    let p = json(&atrium(
        &app,
        &[
            "policy",
            "add",
            "--tenant",
            "Mover",
            "--entity",
            "CREDIT_CARD",
            "--action",
            "block",
            "--json",
        ],
        None,
    ));
    let listed = json(&atrium(
        &app,
        &["policy", "list", "--tenant", "Mover", "--json"],
        None,
    ));
    assert_eq!(listed[0]["id"], p["id"]);
    let bad = atrium(
        &app,
        &[
            "policy", "add", "--tenant", "Mover", "--entity", "NOPE", "--action", "block",
        ],
        None,
    );
    assert!(!bad.status.success());
    let id = p["id"].as_str().unwrap_or_default();
    assert!(atrium(&app, &["policy", "remove", id], None)
        .status
        .success());
    assert_eq!(
        json(&atrium(
            &app,
            &["policy", "list", "--tenant", "Mover", "--json"],
            None
        )),
        serde_json::json!([])
    );

    let verify = atrium(&app, &["audit", "verify", "--json"], None);
    let checks = json(&verify);
    assert!(
        checks
            .as_array()
            .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["broken"].is_null())),
        "{checks}"
    );
    let export = atrium(
        &app,
        &["audit", "export", "--tenant", "Mover", "--format", "csv"],
        None,
    );
    assert!(export.status.success());
    let csv = String::from_utf8_lossy(&export.stdout).to_string();
    assert!(
        csv.contains("tenant.set_isolation") && csv.contains("policy.remove"),
        "{csv}"
    );

    assert!(atrium(&app, &["tenant", "delete", "Mover", "--yes"], None)
        .status
        .success());
    app
}

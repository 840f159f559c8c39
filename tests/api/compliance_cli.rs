//! Issue 22, item 10, on both backends: the compliance commands as an
//! operator types them, against a real binary and database.

use serde_json::{json, Value};

use crate::cli::atrium;
use crate::common::TestApp;
use crate::gateway::{post, setup};
use atrium::server::devtools::mock_upstream::MockOptions;

on_both_backends!(the_compliance_commands_work_end_to_end);

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn the_compliance_commands_work_end_to_end(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    let t = s.tenant_id.to_string();
    let set = ok(&atrium(
        &app,
        &[
            "tenant",
            "request-log",
            &t,
            "--mode",
            "full",
            "--retention-days",
            "30",
        ],
        None,
    ));
    assert!(set.contains("full (30 days)"), "{set}");
    // The key cache picks the setting up through the control version.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({ "model": "claude-mock",
        "max_tokens": 8, "messages": [{ "role": "user", "content": "dan@example.com" }] }),
    )
    .await;
    assert_eq!(r.status(), 200);
    app.running.gateway.ledger.flush().await;

    let dir = tempfile::tempdir().expect("dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for format in ["json", "html", "csv"] {
        let out = path(&format!("ropa.{format}"));
        ok(&atrium(
            &app,
            &[
                "compliance",
                "report",
                "--kind",
                "ropa",
                "--tenant",
                &t,
                "--from",
                &day,
                "--to",
                &day,
                "--format",
                format,
                "--out",
                &out,
            ],
            None,
        ));
        let text = std::fs::read_to_string(&out).expect("written");
        match format {
            "json" => {
                let doc: Value = serde_json::from_str(&text).expect("json");
                assert_eq!(doc["body"]["personal_data"][0]["class"], "EMAIL_ADDRESS");
                assert_eq!(doc["body"]["recipients"][0]["provider"], "mock-anthropic");
            }
            "html" => assert!(text.contains("<table>") && text.contains("EMAIL_ADDRESS")),
            _ => assert!(text.contains("# recipients") && text.contains("mock-anthropic")),
        }
    }
    let access = path("access.json");
    ok(&atrium(
        &app,
        &[
            "compliance",
            "report",
            "--kind",
            "access",
            "--tenant",
            &t,
            "--from",
            &day,
            "--to",
            &day,
            "--subject",
            "DAN@example.com",
            "--format",
            "json",
            "--out",
            &access,
        ],
        None,
    ));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&access).expect("read")).expect("json");
    let id = doc["body"]["requests"][0]["request_id"]
        .as_str()
        .expect("row");
    assert!(id.starts_with("req_"));
    assert!(!doc["id"].as_str().expect("id").starts_with("req_"));

    let verified = atrium(&app, &["compliance", "verify", &access], None);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let text = std::fs::read_to_string(&access).expect("read");
    std::fs::write(
        &access,
        text.replacen("dan@example.com", "dan@example.org", 1),
    )
    .expect("w");
    let tampered = atrium(&app, &["compliance", "verify", &access], None);
    assert_eq!(tampered.status.code(), Some(1));

    let key: Value =
        serde_json::from_str(&ok(&atrium(&app, &["audit", "public-key"], None))).expect("key");
    assert_eq!(key["key_id"], doc["signature"]["key_id"]);

    let refused = atrium(
        &app,
        &[
            "compliance",
            "erase",
            "--tenant",
            &t,
            "--subject",
            "dan@example.com",
        ],
        None,
    );
    assert!(!refused.status.success(), "needs --yes");
    let receipt: Value = serde_json::from_str(&ok(&atrium(
        &app,
        &[
            "compliance",
            "erase",
            "--tenant",
            &t,
            "--subject",
            "dan@example.com",
            "--yes",
        ],
        None,
    )))
    .expect("receipt");
    assert_eq!(receipt["kind"], "erasure");
    assert!(receipt["body"]["removed"]
        .as_array()
        .expect("removed")
        .contains(&json!({ "table": "request_log", "rows": 1 })));
    let pack = path("soc2.zip");
    ok(&atrium(
        &app,
        &[
            "compliance",
            "report",
            "--kind",
            "soc2",
            "--from",
            &day,
            "--to",
            &day,
            "--format",
            "zip",
            "--out",
            &pack,
        ],
        None,
    ));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&pack).expect("zip")).expect("a zip");
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    for expected in [
        "report.json",
        "cc6_users.csv",
        "cc7_monitoring.csv",
        "cc8_changes.csv",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let mut users = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("cc6_users.csv").expect("users"),
        &mut users,
    )
    .expect("read");
    assert!(users.contains("admin@test.local"), "{users}");
    // The platform chain exports too: the platform evidence was generated there.
    let platform = ok(&atrium(
        &app,
        &["audit", "export", "--platform", "--format", "json"],
        None,
    ));
    let events: Value = serde_json::from_str(&platform).expect("json");
    let events = events.as_array().expect("events");
    assert!(events.iter().any(|e| e["action"] == "compliance.report"));
    assert!(
        events.iter().all(|e| e["chain"] == "platform"),
        "only the platform chain"
    );
    let wrong = atrium(
        &app,
        &[
            "compliance",
            "report",
            "--kind",
            "ropa",
            "--tenant",
            &t,
            "--from",
            &day,
            "--to",
            &day,
            "--format",
            "zip",
            "--out",
            &path("x.zip"),
        ],
        None,
    );
    assert!(!wrong.status.success(), "zip is for soc2");
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in [
        "tenant.request_log",
        "compliance.report",
        "compliance.erase",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected}");
    }
    app
}

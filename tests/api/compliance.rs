//! Issue 22 on both backends, at every isolation level: reports from real
//! traffic through the gateway with the request log on and no policy set.
//! The record of processing lists exactly the classes, providers and
//! regions seen; an access request finds exactly the subject's rows and
//! none of another tenant's subject with the same e-mail; erasure removes
//! them with a signed receipt while the audit chain still verifies.

use atrium::domain::compliance::{Period, ReportKind};
use atrium::domain::request_log::{LogMode, LogSettings};
use atrium::domain::tenant::{IsolationLevel, TenantId, TenantSettings};
use atrium::server::crypto::SecretBox;
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::compliance::{self, erasure, report, request_log};
use atrium::server::services::{api_keys, audit_chain, tenants, Actor, Services};
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::gateway::{post, setup};

on_both_backends!(
    reports_from_real_traffic_at_every_level,
    signatures_survive_rotation_and_closed_periods_reproduce
);

fn admin() -> Actor {
    Actor::system("test")
}

/// A tenant at `level` with its request log on and a key.
async fn logging_tenant(app: &TestApp, name: &str, level: IsolationLevel) -> (TenantId, String) {
    let settings =
        TenantSettings::new(name, level, "eu-west", 10_000, 1_000_000).expect("settings");
    let t = tenants::create(&app.svc, &admin(), settings)
        .await
        .expect("tenant");
    let on = LogSettings::new(LogMode::Full, Some(30)).expect("settings");
    request_log::set(&app.svc, &admin(), &t.id, on)
        .await
        .expect("log on");
    let k = api_keys::create(&app.svc, &admin(), &t.id, "k", None)
        .await
        .expect("key");
    (t.id, k.key)
}

/// Sends a prompt; returns the request id the gateway answered with.
async fn send(app: &TestApp, path: &str, key: &str, body: Value) -> String {
    let r = post(app, path, key, body).await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["request-id"].to_str().expect("id").to_string();
    assert!(id.starts_with("req_"), "{id}");
    id
}

fn today() -> Period {
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    Period::days(&day, &day).expect("today")
}

async fn generate(svc: &Services, kind: ReportKind, t: &TenantId, subject: Option<&str>) -> Value {
    let req = compliance::Request {
        kind,
        tenant: Some(t),
        period: today(),
        subject,
    };
    compliance::generate(svc, &admin(), req)
        .await
        .expect("report")
}

fn request_ids(access: &Value) -> Vec<String> {
    access["body"]["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["request_id"].as_str().expect("id").to_string())
        .collect()
}

async fn reports_from_real_traffic_at_every_level(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (other, other_key) = logging_tenant(&app, "Other Co", IsolationLevel::RowLevel).await;
    let other_id = send(
        &app,
        "/v1/messages",
        &other_key,
        json!({ "model": "claude-mock",
        "max_tokens": 8, "messages": [{ "role": "user", "content": "ada@example.com here" }] }),
    )
    .await;
    for (i, level) in IsolationLevel::ALL.into_iter().enumerate() {
        let (t, key) = logging_tenant(&app, &format!("Acme {i}"), level).await;
        let ada = send(
            &app,
            "/v1/messages",
            &key,
            json!({ "model": "claude-mock",
            "max_tokens": 8, "metadata": { "user_id": "end-7" },
            "messages": [{ "role": "user", "content": "Please write to Ada@Example.com" }] }),
        )
        .await;
        let phone = send(
            &app,
            "/v1/chat/completions",
            &key,
            json!({ "model": "gpt-mock",
            "messages": [{ "role": "user", "content": "call +44 20 7946 0958 today" }] }),
        )
        .await;
        send(
            &app,
            "/v1/messages",
            &key,
            json!({ "model": "claude-mock", "max_tokens": 8,
            "messages": [{ "role": "user", "content": "nothing personal" }] }),
        )
        .await;
        app.running.gateway.ledger.flush().await;

        let ropa = generate(&app.svc, ReportKind::Ropa, &t, None).await;
        let body = &ropa["body"];
        assert_eq!(
            body["personal_data"],
            json!([{ "class": "EMAIL_ADDRESS", "requests": 1 },
                   { "class": "PHONE_NUMBER", "requests": 1 }]),
            "{level}: exactly the classes seen"
        );
        let recipients: Vec<(String, String, String)> = body["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().expect(k).to_string();
                (s("provider"), s("region"), s("jurisdiction"))
            })
            .collect();
        assert_eq!(
            recipients,
            vec![
                ("mock-anthropic".into(), "any".into(), "unpinned".into()),
                ("mock-openai".into(), "any".into(), "unpinned".into()),
            ],
            "{level}"
        );
        assert_eq!(
            body["transfers"].as_array().map(Vec::len),
            Some(2),
            "unpinned is a transfer"
        );
        assert!(ropa["id"].as_str().is_some_and(|id| id.starts_with("rpt_")));

        let access = generate(&app.svc, ReportKind::Access, &t, Some("ada@EXAMPLE.com")).await;
        assert_eq!(
            request_ids(&access),
            vec![ada.clone()],
            "{level}: only the subject's rows"
        );
        let row = &access["body"]["requests"][0];
        assert!(row["prompt"]
            .as_str()
            .is_some_and(|p| p.contains("Ada@Example.com")));
        assert!(row["response"].as_str().is_some_and(|p| !p.is_empty()));
        assert_eq!(row["provider"], "mock-anthropic");
        let by_phone = generate(&app.svc, ReportKind::Access, &t, Some("+442079460958")).await;
        assert_eq!(request_ids(&by_phone), vec![phone]);
        let by_end_user = generate(&app.svc, ReportKind::Access, &t, Some("end-7")).await;
        assert_eq!(request_ids(&by_end_user), vec![ada.clone()]);

        let tenant = tenants::get(&app.svc, &admin(), &t).await.expect("tenant");
        let receipt = erasure::erase(&app.svc, &admin(), &tenant, "ada@example.com")
            .await
            .expect("erase");
        let removed = &receipt["body"]["removed"];
        assert!(
            removed
                .as_array()
                .expect("removed")
                .contains(&json!({ "table": "request_log", "rows": 1 })),
            "{removed}"
        );
        assert_eq!(
            receipt["body"]["recipients_informed_under_art_17_2"][0]["provider"],
            "mock-anthropic"
        );
        let text = serde_json::to_string(&receipt).expect("text");
        assert!(
            report::verify(&app.svc, &text).is_ok(),
            "the receipt verifies"
        );
        let again = generate(&app.svc, ReportKind::Access, &t, Some("ada@example.com")).await;
        assert!(request_ids(&again).is_empty(), "{level}: nothing left");
        for check in audit_chain::verify(&app.svc).await.expect("verify") {
            assert!(check.broken.is_none(), "{check:?}");
        }
    }
    // The other tenant's subject, with the same e-mail, is untouched.
    let theirs = generate(
        &app.svc,
        ReportKind::Access,
        &other,
        Some("ada@example.com"),
    )
    .await;
    assert_eq!(request_ids(&theirs), vec![other_id]);
    app
}

async fn signatures_survive_rotation_and_closed_periods_reproduce(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (t, key) = logging_tenant(&app, "Signed Co", IsolationLevel::RowLevel).await;
    send(
        &app,
        "/v1/messages",
        &key,
        json!({ "model": "claude-mock", "max_tokens": 8,
        "messages": [{ "role": "user", "content": "bob@example.org" }] }),
    )
    .await;
    app.running.gateway.ledger.flush().await;
    let closed = Period::days("2026-01-01", "2026-01-31").expect("period");
    let ropa = |svc: Services| {
        let (t, closed) = (t.clone(), closed.clone());
        async move {
            let req = compliance::Request {
                kind: ReportKind::Ropa,
                tenant: Some(&t),
                period: closed,
                subject: None,
            };
            compliance::generate(&svc, &admin(), req)
                .await
                .expect("ropa")
        }
    };
    let first = ropa(app.svc.clone()).await;
    let second = ropa(app.svc.clone()).await;
    assert_ne!(first["id"], second["id"]);
    assert_eq!(
        first["body_sha256"], second["body_sha256"],
        "a closed period reproduces"
    );

    // One byte of the body changed: the hash no longer holds.
    let text = serde_json::to_string_pretty(&first).expect("text");
    assert!(report::verify(&app.svc, &text).is_ok());
    let tampered = text.replacen("\"GDPR Art. 30(1)\"", "\"GDPR Art. 30(2)\"", 1);
    assert_ne!(tampered, text);
    assert_eq!(
        report::verify(&app.svc, &tampered).err(),
        Some(report::Unverified::BodyChanged)
    );
    // Stored, and downloaded again byte for byte.
    let id = first["id"].as_str().expect("id");
    let (_, stored) = report::get(&app.svc, &admin(), id).await.expect("stored");
    assert_eq!(stored, text);

    // A new secret with the old one retired: old reports still verify,
    // a stranger's key does not.
    let old =
        std::fs::read_to_string(app.svc.config.data_dir.join("secret.key")).expect("secret key");
    let rotated = SecretBox::from_hex(&"ab".repeat(32))
        .and_then(|b| b.with_retired_audit_keys(&[old.trim().to_string()]))
        .expect("rotated");
    let svc = Services::new(app.svc.db.clone(), (*app.svc.config).clone(), rotated);
    assert!(report::verify(&svc, &text).is_ok(), "retired key verifies");
    let stranger = SecretBox::from_hex(&"cd".repeat(32)).expect("stranger");
    let other = Services::new(app.svc.db.clone(), (*app.svc.config).clone(), stranger);
    assert_eq!(
        report::verify(&other, &text).err(),
        Some(report::Unverified::BadSignature)
    );

    // An erasure since the period ended changes the body, and says so.
    let tenant = tenants::get(&app.svc, &admin(), &t).await.expect("tenant");
    erasure::erase(&app.svc, &admin(), &tenant, "bob@example.org")
        .await
        .expect("erase");
    let third = ropa(app.svc.clone()).await;
    assert_ne!(third["body_sha256"], first["body_sha256"]);
    assert_eq!(
        third["body"]["changes_since_period_end"][0]["action"],
        "compliance.erase"
    );
    app
}

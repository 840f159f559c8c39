//! `atrium usage export --format cloudevents` (issue 12), on SQLite and
//! PostgreSQL: every event of the period from every tenant's store, as
//! CloudEvents 1.0 whose id is the request id, identical when re-run.

use atrium::domain::completion::Dialect;
use atrium::domain::pii::Classification;
use atrium::domain::policy::Action;
use atrium::domain::tenant::{IsolationLevel, TenantId, TenantSettings};
use atrium::domain::time::{now_millis, rfc3339};
use atrium::domain::usage::{UsageEvent, UsageKind};
use atrium::server::services::{tenants, usage, Actor};
use serde_json::Value;

use crate::cli::atrium;
use crate::common::TestApp;
use crate::governance::{send, setup};

on_both_backends!(the_ledger_exports_as_cloudevents);

fn event(tenant_id: &TenantId, id: &str, created_at: i64) -> UsageEvent {
    UsageEvent {
        request_id: id.into(),
        tenant_id: tenant_id.clone(),
        api_key_id: None,
        kind: UsageKind::FlagEvaluation,
        units: 4,
        model: "-".into(),
        provider: None,
        dialect: None::<Dialect>,
        stream: false,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: 0,
        latency_ms: 1,
        status: 200,
        error_type: None,
        created_at,
        policy_action: Action::Allow,
        classification: Classification::Public,
        price_from: None,
        pii_classes: Default::default(),
        provider_region: None,
        end_user: None,
        log: None,
    }
}

fn export(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let now = now_millis();
    let (from, to) = (rfc3339(now - 3_600_000), rfc3339(now + 3_600_000));
    let mut args = vec![
        "usage",
        "export",
        "--format",
        "cloudevents",
        "--from",
        &from,
        "--to",
        &to,
    ];
    args.extend_from_slice(extra);
    let out = atrium(app, &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

async fn the_ledger_exports_as_cloudevents(app: TestApp) -> TestApp {
    let a = setup(&app, "Exported A").await;
    for _ in 0..2 {
        assert_eq!(
            send(&app, &a.key, "openai", "count these words", false)
                .await
                .0,
            200
        );
    }
    app.running.gateway.ledger.flush().await;
    let settings = TenantSettings::new(
        "Exported B",
        IsolationLevel::SchemaPerTenant,
        "any",
        100,
        100_000,
    )
    .expect("settings");
    let b = tenants::create(&app.svc, &Actor::system("t"), settings)
        .await
        .expect("b")
        .id;
    let old = event(&b, "req_old", 1_000);
    let recent = event(&b, "req_recent", now_millis());
    usage::insert_batch(&app.svc, &[old, recent])
        .await
        .expect("events");

    let all = export(&app, &[]);
    assert_eq!(
        all.len(),
        3,
        "A's two completions and B's recent evaluation: {all:?}"
    );
    for e in &all {
        assert_eq!(
            (e["specversion"].as_str(), e["source"].as_str()),
            (Some("1.0"), Some("/atrium/ledger"))
        );
        assert!(e["time"]
            .as_str()
            .and_then(atrium::domain::time::parse_rfc3339)
            .is_some());
    }
    let of = |t: &TenantId| {
        all.iter()
            .filter(|e| e["subject"] == t.as_str())
            .collect::<Vec<_>>()
    };
    let completions = of(&a.tenant_id);
    assert_eq!(completions.len(), 2);
    assert!(completions
        .iter()
        .all(|e| e["type"] == "io.atrium.completion"
            && e["data"]["input_tokens"].as_i64() > Some(0)
            && e["data"]["dialect"] == "openai"));
    let evaluations = of(&b);
    assert_eq!(evaluations.len(), 1);
    assert_eq!(
        (
            evaluations[0]["id"].as_str(),
            evaluations[0]["type"].as_str()
        ),
        (Some("req_recent"), Some("io.atrium.flag_evaluation"))
    );
    assert_eq!(evaluations[0]["data"]["evaluations"], 4);

    assert_eq!(
        export(&app, &[]),
        all,
        "a re-run is the same export (same ids)"
    );
    assert_eq!(export(&app, &["--tenant", "Exported A"]).len(), 2);
    let bad = atrium(
        &app,
        &["usage", "export", "--from", "yesterday", "--to", "now"],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
    app
}

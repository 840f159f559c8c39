//! Data governance end to end, on SQLite and PostgreSQL: policies applied by
//! the gateway in both dialects and when streaming, decisions on the usage
//! ledger and in the audit trail, and the audit hash chain catching edits,
//! deletions and reordering, before and after retention purges.

use crate::common;
use atrium::domain::tenant::TenantId;

use atrium::domain::audit::{AuditQuery, ExportFormat};
use atrium::domain::catalog::ProviderKind;
use atrium::domain::pii::{Classification, EntityType};
use atrium::domain::policy::{Action, Direction, Target};
use atrium::domain::pricing::Price;
use atrium::domain::tenant::{IsolationLevel, TenantSettings};
use atrium::server::devtools::mock_upstream::{self, MockOptions};
use atrium::server::services::catalog::{self, Credential, NewModel, NewProvider};
use atrium::server::services::{
    api_keys, audit, audit_chain, audit_export, policies, tenants, Actor, Services,
};
use common::TestApp;
use futures::StreamExt;
use serde_json::{json, Value};

on_both_backends!(
    policies_block_redact_and_flag_in_both_dialects,
    platform_default_and_response_rules,
    audit_chain_detects_tampering,
    retention_purges_and_the_chain_still_verifies,
    audit_search_filters_and_export,
);

pub(crate) const CARD: &str = "4111 1111 1111 1111";
pub(crate) const EMAIL: &str = "jane.doe@example.com";

fn admin() -> Actor {
    Actor::system("test")
}

pub(crate) struct Setup {
    pub tenant_id: TenantId,
    pub key: String,
    pub mock: std::net::SocketAddr,
}

pub(crate) async fn setup(app: &TestApp, name: &str) -> Setup {
    setup_with(app, name, MockOptions::default()).await
}

/// As [`setup`], with a mock provider configured by `opts`.
pub(crate) async fn setup_with(app: &TestApp, name: &str, opts: MockOptions) -> Setup {
    let opts = MockOptions {
        addr: "127.0.0.1:0".into(),
        ..opts
    };
    let mock = mock_upstream::spawn(opts).await.expect("mock").0;
    for (pname, kind, base) in [
        (
            "mock-anthropic",
            ProviderKind::Anthropic,
            format!("http://{mock}"),
        ),
        (
            "mock-openai",
            ProviderKind::Openai,
            format!("http://{mock}/v1"),
        ),
    ] {
        let p = NewProvider {
            name: pname.into(),
            kind,
            base_url: base,
            region: "any".into(),
            timeout_ms: 5_000,
            credential: Credential::Stored("sk-test".into()),
        };
        catalog::add_provider(&app.svc, &admin(), p)
            .await
            .expect("provider");
    }
    for (model, provider) in [
        ("claude-mock", "mock-anthropic"),
        ("gpt-mock", "mock-openai"),
    ] {
        let m = NewModel {
            name: model.into(),
            provider: provider.into(),
            upstream_model: Some(format!("{model}-upstream")),
            price: Price::default(),
            priority: 0,
        };
        catalog::add_model(&app.svc, &admin(), m)
            .await
            .expect("model");
    }
    let (tenant_id, key) = tenant(&app.svc, name).await;
    Setup {
        tenant_id,
        key,
        mock,
    }
}

async fn tenant(svc: &Services, name: &str) -> (TenantId, String) {
    let settings = TenantSettings::new(name, IsolationLevel::RowLevel, "any", 10_000, 10_000_000)
        .expect("settings");
    let t = tenants::create(svc, &admin(), settings)
        .await
        .expect("tenant");
    let k = api_keys::create(svc, &admin(), &t.id, "k", None)
        .await
        .expect("key");
    (t.id, k.key)
}

pub(crate) async fn rule(
    svc: &Services,
    tenant: Option<&TenantId>,
    target: Target,
    action: Action,
    dir: Direction,
) {
    policies::add(svc, &admin(), tenant, target, action, dir)
        .await
        .expect("policy");
}

/// A tenant rule that redacts e-mail addresses in `dir`.
pub(crate) async fn redact_emails(svc: &Services, tenant: &TenantId, dir: Direction) {
    let email = Target::Entity(EntityType::EmailAddress);
    rule(svc, Some(tenant), email, Action::Redact, dir).await;
}

/// Sends `text` in the given dialect; returns status and body text.
pub(crate) async fn send(
    app: &TestApp,
    key: &str,
    dialect: &str,
    text: &str,
    stream: bool,
) -> (u16, String) {
    let client = crate::common::plain_client();
    let req = if dialect == "anthropic" {
        client
            .post(app.url("/v1/messages"))
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .json(
                &json!({"model": "claude-mock", "max_tokens": 64, "stream": stream,
                          "system": "be brief", "messages": [{"role": "user", "content": text}]}),
            )
    } else {
        client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "gpt-mock", "stream": stream,
                          "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}))
    };
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let mut body = String::new();
    let mut chunks = res.bytes_stream();
    while let Some(c) = chunks.next().await {
        body.push_str(&String::from_utf8_lossy(&c.expect("chunk")));
    }
    (status, body)
}

pub(crate) async fn upstream_saw(s: &Setup) -> String {
    let v: Value = reqwest::get(format!("http://{}/mock/last-request", s.mock))
        .await
        .expect("mock")
        .json()
        .await
        .expect("json");
    v["body"].to_string()
}

async fn events(
    svc: &Services,
    tenant_id: &str,
    action: &str,
) -> Vec<atrium::domain::audit::AuditEvent> {
    let q = AuditQuery {
        tenant_id: tenant_id.into(),
        action: action.into(),
        ..Default::default()
    };
    // Decisions are audited off the response path: give them a moment.
    for _ in 0..50 {
        let page = audit::search(svc, &admin(), &q, Default::default())
            .await
            .expect("search");
        if !page.items.is_empty() {
            return page.items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Vec::new()
}

async fn policies_block_redact_and_flag_in_both_dialects(app: TestApp) -> TestApp {
    let s = setup(&app, "Governed").await;
    let t = Some(&s.tenant_id);
    rule(
        &app.svc,
        t,
        Target::Entity(EntityType::CreditCard),
        Action::Block,
        Direction::Prompt,
    )
    .await;
    rule(
        &app.svc,
        t,
        Target::Entity(EntityType::EmailAddress),
        Action::Redact,
        Direction::Prompt,
    )
    .await;
    rule(
        &app.svc,
        t,
        Target::Entity(EntityType::IpAddress),
        Action::Flag,
        Direction::Prompt,
    )
    .await;

    for dialect in ["anthropic", "openai"] {
        for stream in [false, true] {
            let (status, body) = send(
                &app,
                &s.key,
                dialect,
                &format!("charge card {CARD} now"),
                stream,
            )
            .await;
            assert_eq!(status, 403, "{dialect} stream={stream}: {body}");
            let err: Value = serde_json::from_str(&body).expect("error JSON");
            let message = if dialect == "anthropic" {
                assert_eq!(err["type"], "error");
                assert_eq!(err["error"]["type"], "permission_error");
                err["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            } else {
                assert!(err["error"]["type"].is_string(), "{err}");
                err["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            assert!(
                message.contains("CREDIT_CARD") && message.contains("policy"),
                "{message}"
            );
            assert!(
                !message.contains("4111"),
                "a block names types, never values: {message}"
            );

            let (status, body) = send(
                &app,
                &s.key,
                dialect,
                &format!("mail {EMAIL} please"),
                stream,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let saw = upstream_saw(&s).await;
            assert!(saw.contains("[REDACTED:EMAIL_ADDRESS]"), "{saw}");
            assert!(
                !saw.contains(EMAIL),
                "the provider never sees the address: {saw}"
            );

            let (status, _) =
                send(&app, &s.key, dialect, "login from 10.1.2.3 failed", stream).await;
            assert_eq!(status, 200);
            assert!(
                upstream_saw(&s).await.contains("10.1.2.3"),
                "flag lets the text through"
            );
        }
    }
    // Decisions are written in batches after the responses.
    app.running.gateway.audit.flush().await;
    let blocked = events(&app.svc, &s.tenant_id, "policy.block").await;
    assert_eq!(blocked.len(), 4);
    assert!(blocked[0].details.contains("CREDIT_CARD") && !blocked[0].details.contains("4111"));
    assert_eq!(
        events(&app.svc, &s.tenant_id, "policy.redact").await.len(),
        4
    );
    let flagged = events(&app.svc, &s.tenant_id, "policy.flag").await;
    assert_eq!(flagged.len(), 4);
    assert!(!flagged[0].details.contains("10.1.2.3"));

    app.running.gateway.ledger.flush().await;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT policy_action, classification, COUNT(*) FROM usage_events \
         GROUP BY policy_action, classification ORDER BY policy_action",
    )
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("usage");
    assert_eq!(
        rows,
        vec![
            ("block".into(), "restricted".into(), 4),
            ("flag".into(), "internal".into(), 4),
            ("redact".into(), "confidential".into(), 4),
        ]
    );
    app
}

async fn platform_default_and_response_rules(app: TestApp) -> TestApp {
    let s = setup(&app, "Defaulted").await;
    let (other, other_key) = tenant(&app.svc, "Own Rules").await;
    rule(
        &app.svc,
        None,
        Target::Classification(Classification::Restricted),
        Action::Block,
        Direction::Prompt,
    )
    .await;
    rule(
        &app.svc,
        Some(&other),
        Target::Entity(EntityType::UsSsn),
        Action::Flag,
        Direction::Prompt,
    )
    .await;
    let (status, _) = send(&app, &s.key, "anthropic", "SSN 123-45-6789", false).await;
    assert_eq!(status, 403, "the platform default blocks restricted data");
    let (status, _) = send(&app, &other_key, "anthropic", "SSN 123-45-6789", false).await;
    assert_eq!(status, 200, "a tenant's own rules replace the default");

    // Responses: the mock echoes the prompt; a response rule redacts the echo.
    rule(
        &app.svc,
        Some(&other),
        Target::Entity(EntityType::EmailAddress),
        Action::Redact,
        Direction::Response,
    )
    .await;
    for dialect in ["anthropic", "openai"] {
        let (status, body) = send(&app, &other_key, dialect, &format!("echo {EMAIL}"), false).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("[REDACTED:EMAIL_ADDRESS]") && !body.contains(EMAIL),
            "{body}"
        );
    }
    let trial = policies::try_text(
        &app.svc,
        &admin(),
        Some(&s.tenant_id),
        &format!("card {CARD}"),
        Direction::Prompt,
    )
    .await
    .expect("try");
    assert_eq!(trial.decision.action, Action::Block);
    assert!(trial.forwarded.is_none());
    app
}

pub(crate) async fn make_events(svc: &Services, n: usize) -> TenantId {
    let (tenant_id, _) = tenant(svc, "Chained").await;
    for i in 0..n {
        tenants::set_status(
            svc,
            &admin(),
            &tenant_id,
            if i % 2 == 0 {
                atrium::domain::tenant::TenantStatus::Suspended
            } else {
                atrium::domain::tenant::TenantStatus::Active
            },
        )
        .await
        .expect("status");
    }
    tenant_id
}

pub(crate) fn broken(checks: &[audit_chain::ChainCheck], chain: &str) -> Option<String> {
    checks
        .iter()
        .find(|c| c.chain == chain)
        .and_then(|c| c.broken.clone())
}

async fn audit_chain_detects_tampering(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 6).await;
    let pool = &app.svc.db.pool;
    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    assert!(checks.iter().all(|c| c.broken.is_none()), "{checks:?}");
    let seqs = |n: i64| {
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM audit_events WHERE chain = $1 AND chain_seq = $2",
        )
        .bind(chain.clone())
        .bind(n)
        .fetch_one(pool)
    };

    // Edit.
    let third = seqs(3).await.expect("event");
    let original: String = sqlx::query_scalar("SELECT details FROM audit_events WHERE id = $1")
        .bind(&third)
        .fetch_one(pool)
        .await
        .expect("details");
    sqlx::query("UPDATE audit_events SET details = '{\"forged\":true}' WHERE id = $1")
        .bind(&third)
        .execute(pool)
        .await
        .expect("tamper");
    let why = broken(
        &audit_chain::verify(&app.svc).await.expect("verify"),
        &chain,
    )
    .expect("edit detected");
    assert!(why.contains("#3") && why.contains("altered"), "{why}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atrium"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.db_url)
        .env("ATRIUM_DATA_DIR", &app.svc.config.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run atrium audit verify");
    assert!(
        !out.status.success(),
        "verify exits non-zero on a broken chain"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("BROKEN"));
    sqlx::query("UPDATE audit_events SET details = $1 WHERE id = $2")
        .bind(&original)
        .bind(&third)
        .execute(pool)
        .await
        .expect("restore");
    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    assert!(broken(&checks, &chain).is_none(), "restored: {checks:?}");

    // Reorder: swap the positions of two events.
    let (a, b) = (seqs(4).await.expect("event"), seqs(5).await.expect("event"));
    for (id, seq) in [(&a, -5i64), (&b, 4), (&a, 5)] {
        sqlx::query("UPDATE audit_events SET chain_seq = $1 WHERE id = $2")
            .bind(seq)
            .bind(id)
            .execute(pool)
            .await
            .expect("swap");
    }
    let why = broken(
        &audit_chain::verify(&app.svc).await.expect("verify"),
        &chain,
    )
    .expect("reorder detected");
    assert!(why.contains("#4"), "{why}");

    // Delete one in the middle, and one at the end.
    sqlx::query("DELETE FROM audit_events WHERE id = $1")
        .bind(&a)
        .execute(pool)
        .await
        .expect("delete");
    let why = broken(
        &audit_chain::verify(&app.svc).await.expect("verify"),
        &chain,
    )
    .expect("deletion detected");
    assert!(
        why.contains("missing") || why.contains("does not follow"),
        "{why}"
    );
    app
}

async fn retention_purges_and_the_chain_still_verifies(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 4).await;
    let pool = &app.svc.db.pool;
    // Age the first three events past a one-day retention.
    sqlx::query(
        "UPDATE audit_events SET at = at - 5 * 86400000 WHERE chain = $1 AND chain_seq <= 3",
    )
    .bind(&chain)
    .execute(pool)
    .await
    .expect("age");
    // Ageing changed hashed fields: re-seal those three as if written then.
    reseal(&app, &chain).await;
    tenants::set_audit_retention(&app.svc, &admin(), &chain, Some(1))
        .await
        .expect("retention");
    let removed = atrium::server::services::audit_retention::purge_expired(&app.svc)
        .await
        .expect("purge");
    assert_eq!(removed, 3);
    let checks = audit_chain::verify(&app.svc).await.expect("verify");
    assert!(checks.iter().all(|c| c.broken.is_none()), "{checks:?}");
    assert_eq!(events(&app.svc, &chain, "audit.purge").await.len(), 1);
    // Removing the purge record makes the gap unexplained.
    sqlx::query("UPDATE audit_chains SET anchor_seq = anchor_seq + 1 WHERE chain = $1")
        .bind(&chain)
        .execute(pool)
        .await
        .expect("tamper");
    assert!(broken(
        &audit_chain::verify(&app.svc).await.expect("verify"),
        &chain
    )
    .is_some());
    app
}

/// Recomputes a chain's hashes in place with the deployment's key (test
/// set-up for aged events).
async fn reseal(app: &TestApp, chain: &str) {
    let links = crate::abuse_audit::links(app, chain).await;
    let keys = app.svc.secrets.audit().clone();
    crate::abuse_audit::reseal(app, chain, links, |l| {
        l.expected_hash(&keys).expect("our key")
    })
    .await;
}

async fn audit_search_filters_and_export(app: TestApp) -> TestApp {
    let chain = make_events(&app.svc, 3).await;
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            tenant_id: chain.to_string(),
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let svc = app.svc.clone();
    let search = |q: AuditQuery| {
        let svc = svc.clone();
        async move {
            audit::search(&svc, &admin(), &q, Default::default())
                .await
                .expect("search")
                .total
        }
    };
    assert_eq!(
        search(q(|_| {})).await,
        5,
        "create, a key, 3 status changes"
    );
    assert_eq!(search(q(|q| q.action = "tenant.suspend".into())).await, 2);
    assert_eq!(search(q(|q| q.actor = "test".into())).await, 5);
    assert_eq!(search(q(|q| q.status = "success".into())).await, 5);
    assert_eq!(search(q(|q| q.text = "RESUME".into())).await, 1);
    assert_eq!(search(q(|q| q.resource = "tenant".into())).await, 4);
    assert_eq!(search(q(|q| q.from = "2000-01-01".into())).await, 5);
    assert_eq!(search(q(|q| q.to = "2000-01-01".into())).await, 0);
    assert!(audit::search(
        &app.svc,
        &admin(),
        &q(|q| q.from = "yesterday".into()),
        Default::default()
    )
    .await
    .is_err());

    let mut csv = String::new();
    let mut s = audit_export::export(&app.svc, &admin(), Some(&chain), "", "", ExportFormat::Csv)
        .await
        .expect("export");
    while let Some(c) = s.next().await {
        csv.push_str(&c.expect("chunk"));
    }
    assert!(csv.starts_with("id,at,actor,action"));
    // Header, five events, and the export's own event (recorded before streaming).
    assert_eq!(csv.lines().count(), 7, "{csv}");
    let mut js = String::new();
    let mut s = audit_export::export(&app.svc, &admin(), Some(&chain), "", "", ExportFormat::Json)
        .await
        .expect("export");
    while let Some(c) = s.next().await {
        js.push_str(&c.expect("chunk"));
    }
    let parsed: Vec<Value> = serde_json::from_str(&js).expect("JSON array");
    assert_eq!(parsed.len(), 7);
    assert_eq!(
        search(q(|q| q.action = "audit.export".into())).await,
        2,
        "exports are audited"
    );
    app
}

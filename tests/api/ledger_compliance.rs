//! Issue 22, item 2, on both backends: the ledger row records what the
//! compliance reports need: every PII class detected in the prompt (acted
//! on or not), the region of the provider called, and the end user the
//! client named, in either dialect.

use atrium::domain::pii::{EntitySet, EntityType};
use atrium::domain::policy::{Action, Direction, Target};
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::{policies, Actor};
use serde_json::json;

use crate::common::TestApp;
use crate::gateway::{post, setup};

on_both_backends!(the_ledger_records_classes_region_and_end_user);

async fn the_ledger_records_classes_region_and_end_user(app: TestApp) -> TestApp {
    let s = setup(&app, MockOptions::default()).await;
    // A rule on another class: the prompt is scanned, and what it finds
    // is recorded even where no rule acts on it.
    policies::add(
        &app.svc,
        &Actor::system("test"),
        Some(&s.tenant_id),
        Target::Entity(EntityType::CreditCard),
        Action::Block,
        Direction::Prompt,
    )
    .await
    .expect("policy");
    let text = "mail ada@example.com or call +1 415 555 0132";
    let r = post(
        &app,
        "/v1/messages",
        &s.anthropic_key,
        json!({ "model": "claude-mock", "max_tokens": 8, "metadata": { "user_id": "end-42" },
            "messages": [{ "role": "user", "content": text }] }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &app,
        "/v1/chat/completions",
        &s.anthropic_key,
        json!({ "model": "gpt-mock", "user": "end-43",
            "messages": [{ "role": "user", "content": "nothing personal" }] }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let long = "u".repeat(257);
    for body in [
        json!({ "model": "gpt-mock", "user": long, "messages": [{ "role": "user", "content": "x" }] }),
        json!({ "model": "gpt-mock", "user": 42, "messages": [{ "role": "user", "content": "x" }] }),
    ] {
        let r = post(&app, "/v1/chat/completions", &s.anthropic_key, body).await;
        assert_eq!(r.status(), 400);
    }
    app.running.gateway.ledger.flush().await;
    let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT pii_classes, provider_region, end_user FROM usage_events \
         WHERE status = 200 ORDER BY created_at",
    )
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("rows");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let found: Vec<EntityType> = EntitySet::from_bits(rows[0].0).types().collect();
    assert_eq!(
        found,
        vec![EntityType::EmailAddress, EntityType::PhoneNumber],
        "classes found though no rule acts on them"
    );
    assert_eq!(rows[0].1.as_deref(), Some("any"));
    assert_eq!(rows[0].2.as_deref(), Some("end-42"));
    assert_eq!(EntitySet::from_bits(rows[1].0), EntitySet::default());
    assert_eq!(rows[1].2.as_deref(), Some("end-43"));
    app
}

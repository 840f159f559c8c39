//! The steps of the completion path on their own, over the real service
//! layer (SQLite) and the in-process limiter: admission, governance and
//! settlement.

use crate::domain::tenant::TenantId;
use std::sync::Arc;

use serde_json::json;

use super::settle::Settlement;
use super::{govern, Gateway};
use crate::domain::completion::{Dialect, ErrorKind};
use crate::domain::pii::EntityType;
use crate::domain::policy::{Action, Direction, Target};
use crate::domain::pricing::TokenCounts;
use crate::server::services::{api_keys, policies, usage};
use crate::server::testing::{self, Fixture};

async fn gateway(f: &Fixture) -> Gateway {
    Gateway::start(f.svc.clone()).await.expect("gateway")
}

async fn requests(f: &Fixture, gw: &Gateway, tenant_id: &TenantId) -> (i64, i64) {
    gw.ledger.flush().await;
    let r = usage::report(&f.svc, &f.admin, tenant_id, None, None)
        .await
        .expect("report");
    (r.totals.requests, r.totals.errors)
}

#[tokio::test]
async fn admission_takes_requests_and_tokens_and_settles_the_difference() {
    let f = testing::services().await;
    let gw = gateway(&f).await;
    let t = f.tenant("Tight", 2, 1_000).await;
    let info = gw.limiter.admit(&t).await.ok().expect("first request");
    assert_eq!(info.requests_limit, 2);
    gw.limiter.reserve(&t, 900).await.ok().expect("first fits");
    assert!(
        gw.limiter.reserve(&t, 900).await.is_err(),
        "tokens are spent"
    );
    gw.limiter.settle(&t, -900).await;
    assert!(
        gw.limiter.reserve(&t, 900).await.is_ok(),
        "a refund frees them"
    );
    assert!(gw.limiter.admit(&t).await.is_ok(), "a second request");
    assert!(gw.limiter.admit(&t).await.is_err(), "two requests a minute");
    let over = gw
        .limiter
        .reserve(&f.tenant("Small", 100, 10).await, 11)
        .await;
    assert!(
        over.is_err(),
        "a request larger than the limit is refused outright"
    );
}

#[tokio::test]
async fn governance_blocks_or_redacts_the_prompt_and_audits_it() {
    let f = testing::services().await;
    let gw = gateway(&f).await;
    let t = f.tenant("Governed", 100, 100_000).await;
    for (entity, action) in [
        (EntityType::CreditCard, Action::Block),
        (EntityType::EmailAddress, Action::Redact),
    ] {
        policies::add(
            &f.svc,
            &f.admin,
            Some(&t.id),
            Target::Entity(entity),
            action,
            Direction::Prompt,
        )
        .await
        .expect("rule");
    }
    let mut body = json!({"messages": [{"role": "user", "content": "mail jane.doe@example.com"}]});
    let mut redacted = govern::prompt(&gw, &t.id, "req_1", &mut body, false);
    govern::record(&gw, redacted.audit.take()).await;
    assert_eq!(redacted.action, Action::Redact);
    assert!(redacted.refusal.is_none());
    let text = body["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(
        !text.contains("jane.doe") && text.contains("[REDACTED:EMAIL_ADDRESS]"),
        "{text}"
    );

    let mut body = json!({"system": "card 4111 1111 1111 1111", "messages": []});
    let mut blocked = govern::prompt(&gw, &t.id, "req_2", &mut body, false);
    assert_eq!(blocked.action, Action::Block);
    assert!(blocked.refusal.is_some());
    // A block's record is stored before the refusal can be sent: no flush.
    govern::record(&gw, blocked.audit.take()).await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE resource_type = 'request' ORDER BY seq",
    )
    .fetch_all(&f.svc.db.pool)
    .await
    .expect("audit");
    assert_eq!(actions, ["policy.redact", "policy.block"]);
}

#[tokio::test]
async fn a_settlement_records_one_event_however_the_request_ends() {
    let f = testing::services().await;
    let gw = gateway(&f).await;
    let t = f.tenant("Accounted", 100, 10_000).await;
    let key = f.key(&t).await;
    let auth = api_keys::authenticate(&f.svc, &key.key)
        .await
        .expect("auth");

    // Answered: one event, and dropping the finished settlement adds none.
    let mut s = Settlement::new(&gw, Dialect::OpenAi, "req_a".into());
    s.authenticated(Arc::clone(&auth));
    s.requested("m", false, None);
    s.used(TokenCounts {
        input: 3,
        output: 4,
        ..Default::default()
    });
    s.finish(200, None).await;
    assert_eq!(requests(&f, &gw, &t.id).await, (1, 0));

    // Abandoned after admission: recorded as closed by the client, and the
    // reservation is given back.
    gw.limiter
        .reserve(&auth.tenant, 9_000)
        .await
        .ok()
        .expect("reserve");
    let mut s = Settlement::new(&gw, Dialect::Anthropic, "req_b".into());
    s.authenticated(Arc::clone(&auth));
    s.reserved(9_000);
    drop(s);
    assert_eq!(requests(&f, &gw, &t.id).await, (2, 1));
    let store = f.svc.stores.open(&t.id).await.expect("store");
    let events = store.usage_page("", None, 10).await.expect("events");
    let abandoned = events
        .iter()
        .find(|e| e.request_id == "req_b")
        .expect("req_b");
    assert_eq!(
        (abandoned.status, abandoned.error_type),
        (499, Some(ErrorKind::ClientClosed))
    );
    assert!(
        gw.limiter.reserve(&auth.tenant, 9_000).await.is_ok(),
        "the abandoned request's tokens were refunded"
    );

    // A provider that reports negative counts is billed the floors: the
    // input estimate, and the frames that reached the client.
    let mut s = Settlement::new(&gw, Dialect::Anthropic, "req_d".into());
    s.authenticated(Arc::clone(&auth));
    s.requested("m", true, None);
    s.called("p", "any", 10);
    s.used(TokenCounts {
        input: -5,
        output: -7,
        cache_read: -1,
        ..Default::default()
    });
    s.delivered(3);
    s.finish(200, None).await;
    gw.ledger.flush().await;
    let events = store.usage_page("", None, 10).await.expect("events");
    let negative = events
        .iter()
        .find(|e| e.request_id == "req_d")
        .expect("req_d");
    assert_eq!(
        (
            negative.input_tokens,
            negative.output_tokens,
            negative.cache_read_tokens
        ),
        (10, 3, 0)
    );
    assert!(negative.cost_micros >= 0);

    // Refused before the key was known: nothing to bill, no event.
    let s = Settlement::new(&gw, Dialect::OpenAi, "req_c".into());
    drop(s);
    assert_eq!(requests(&f, &gw, &t.id).await, (3, 1));
}

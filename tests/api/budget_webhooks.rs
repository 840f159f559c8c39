//! Soft-budget webhooks on both backends: a soft budget alerts once per
//! threshold and signs its webhook (checked as Standard Webhooks says);
//! deliveries are retried durably (issue 12): a receiver that fails a
//! whole round gets the alert again in a later round, under the same
//! message id and a valid signature; an alert left due by a replica that
//! stopped mid-round is delivered by another's redeliverer, once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use atrium::domain::budget::{Budget, Enforcement, Period};
use atrium::domain::tenant::TenantId;
use atrium::domain::time::now_millis;
use atrium::server::services::budgets::{self, redeliver, BudgetSpec};
use atrium::server::services::Actor;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::Mac;

use atrium::server::devtools::mock_upstream::MockOptions;
use serde_json::Value;

use crate::budgets::call;
use crate::common::TestApp;
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(
    a_soft_budget_alerts_once_and_signs_its_webhook,
    a_failed_webhook_is_retried_under_one_message_id,
);

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A soft budget alerting `url`, and its webhook secret (shown once).
async fn soft_budget(
    app: &TestApp,
    tenant: &TenantId,
    api_key: Option<String>,
    limit_micros: i64,
    period: Period,
    url: String,
) -> (Budget, String) {
    let spec = BudgetSpec {
        tenant: tenant.to_string(),
        api_key,
        limit_micros,
        period,
        enforcement: Enforcement::Soft,
        webhook_url: Some(url),
    };
    let set = budgets::set(&app.svc, &Actor::system("test"), spec)
        .await
        .expect("budget");
    let secret = set.webhook_secret.expect("the secret, shown once");
    (set.budget, secret)
}

/// A receiver that answers 503 to its first `failing` posts, then 200.
async fn flaky_receiver(failing: usize) -> (String, Received) {
    let got: Received = Arc::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (keep, seen) = (keep.clone(), seen.clone());
            async move {
                keep.lock().expect("lock").push((headers, body));
                if seen.fetch_add(1, Ordering::SeqCst) < failing {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

async fn alert_row(app: &TestApp, budget_id: &str) -> (String, i64, Option<i64>) {
    threshold_row(app, budget_id, 50).await
}

async fn threshold_row(
    app: &TestApp,
    budget_id: &str,
    threshold: i64,
) -> (String, i64, Option<i64>) {
    sqlx::query_as(
        "SELECT delivery, CAST(attempts AS BIGINT), next_attempt_at FROM budget_alerts \
         WHERE budget_id = $1 AND threshold = $2",
    )
    .bind(budget_id)
    .bind(threshold)
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("alert")
}

/// Runs a redelivery pass and waits for the alert to be delivered (the
/// server's own redeliverer may be the one that claims it).
async fn delivered(app: &TestApp, budget_id: &str, threshold: i64) -> (String, i64, Option<i64>) {
    redeliver::run_once(&app.svc).await.expect("pass");
    for _ in 0..200 {
        let row = threshold_row(app, budget_id, threshold).await;
        if row.0.starts_with("delivered") {
            return row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    threshold_row(app, budget_id, threshold).await
}

/// Makes the alert due now, as time passing would.
async fn make_due(app: &TestApp, budget_id: &str) {
    sqlx::query("UPDATE budget_alerts SET next_attempt_at = $1 WHERE budget_id = $2")
        .bind(now_millis() - 1)
        .bind(budget_id)
        .execute(&app.svc.db.pool)
        .await
        .expect("due");
}

async fn a_failed_webhook_is_retried_under_one_message_id(app: TestApp) -> TestApp {
    let (tenant, _) = tenant_with_key(&app, "Hooked", 100, "eu-west").await;
    let (url, got) = flaky_receiver(3).await;
    let (budget, secret) = soft_budget(&app, &tenant, None, 1_000_000, Period::Month, url).await;

    // The first round (three attempts) fails: the alert stays due.
    budgets::alerts::raise(&app.svc, &budget, 0, 50, 500_000)
        .await
        .expect("raise");
    let (delivery, attempts, next) = alert_row(&app, &budget.id).await;
    assert!(delivery.contains("retrying"), "{delivery}");
    assert_eq!(attempts, 3);
    assert!(next.is_some_and(|n| n > now_millis()), "due later");
    assert_eq!(
        redeliver::run_once(&app.svc).await.expect("pass"),
        0,
        "not yet"
    );

    // Its time comes: the next round delivers it.
    make_due(&app, &budget.id).await;
    let row = delivered(&app, &budget.id, 50).await;
    assert_eq!(row, ("delivered 200".to_string(), 6, None));
    assert_eq!(
        redeliver::run_once(&app.svc).await.expect("pass"),
        0,
        "once"
    );

    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), 4, "three failures, then the delivery");
    let ids: Vec<_> = got.iter().map(|(h, _)| h["webhook-id"].clone()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one message id: {ids:?}"
    );
    assert!(got.iter().all(|(h, b)| verify(&secret, h, b)));
    assert!(got.iter().all(|(_, b)| *b == got[0].1), "the same body");

    // An alert whose replica stopped before its round is still due (its
    // claim lapsed): another process delivers it.
    sqlx::query(
        "INSERT INTO budget_alerts (budget_id, tenant_id, period_start, threshold, \
         spent_micros, limit_micros, delivery, created_at, message_id, attempts, \
         next_attempt_at) VALUES ($1, $2, 0, 80, 800000, 1000000, 'pending', $3, 'msg_x', 0, $4)",
    )
    .bind(&budget.id)
    .bind(tenant.as_str())
    .bind(now_millis())
    .bind(now_millis() - 1)
    .execute(&app.svc.db.pool)
    .await
    .expect("orphaned alert");
    let row = delivered(&app, &budget.id, 80).await;
    assert_eq!(row.0, "delivered 200");
    app
}

/// Checks a delivery as the Standard Webhooks specification says, with
/// HMAC written out here rather than the server's own code.
pub(crate) fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.{}", h("webhook-id"), h("webhook-timestamp"), body).as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    h("webhook-signature").split(' ').any(|s| s == expected)
}

async fn a_soft_budget_alerts_once_and_signs_its_webhook(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Alerted", 100_000, "eu-west").await;
    let (url, got) = flaky_receiver(0).await;
    // One request's real cost is about a thousand micro-dollars; the limit
    // is a cent, so the third of ten requests crosses 50% and so on.
    let key_id = Some("k".into());
    let (_, secret) = soft_budget(&app, &tenant, key_id, 10_000, Period::Days(7), url).await;
    for i in 0..14 {
        let (status, body) = call(&app.url(""), &key, i).await;
        assert_eq!(status, 200, "a soft budget never refuses: {body}");
    }
    let mut alerts = Vec::new();
    for _ in 0..100 {
        alerts = budgets::alerts::list(&app.svc, &Actor::system("test"), &tenant, 10)
            .await
            .expect("alerts");
        if alerts.len() == 3 && alerts.iter().all(|a| a.delivery.starts_with("delivered")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut thresholds: Vec<i64> = alerts.iter().map(|a| a.threshold).collect();
    thresholds.sort();
    assert_eq!(thresholds, vec![50, 80, 100], "{alerts:?}");
    assert!(
        alerts.iter().all(|a| a.delivery == "delivered 200"),
        "{alerts:?}"
    );
    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), 3, "one delivery per threshold");
    for (headers, body) in &got {
        assert!(
            verify(&secret, headers, body),
            "signature verifies: {headers:?}"
        );
        assert!(!verify(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            headers,
            body
        ));
        let v: Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["type"], "budget.threshold_reached");
        assert_eq!(v["data"]["limit_micros"], 10_000);
    }
    let audited = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _)| a == "budget.alert")
        .count();
    assert_eq!(audited, 3);
    app
}

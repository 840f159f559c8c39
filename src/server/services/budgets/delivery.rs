//! Delivering a soft budget's alert to its webhook: the alert record, its
//! signed body (Standard Webhooks), one round of attempts and what it
//! leaves due. Raising an alert (`alerts`) and the periodic redeliverer
//! (`redeliver`) both call one round here.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::budget::{percent_spent, Budget};
use crate::domain::pricing::{format_money, Micros};
use crate::domain::time::{now_millis, rfc3339, Millis};
use crate::server::crypto::webhook;
use crate::server::services::{Result, Services};

/// How long a round may take before another replica may take the alert.
pub(super) const CLAIM_MS: Millis = 2 * 60 * 1000;
/// Rounds before giving up: pauses of 1, 2, 4 … 64 minutes, about two hours.
const MAX_ROUNDS: i64 = 8;
/// Attempts in one round (`alerts::deliver`).
const ROUND_ATTEMPTS: i64 = 3;
/// Each delivery round tries this many times, a little apart; a round
/// that fails leaves the alert due again later (`redeliver`).
const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Alert {
    pub budget_id: String,
    pub period_start: Millis,
    pub threshold: i64,
    pub spent_micros: Micros,
    pub limit_micros: Micros,
    /// What the webhook answered: `delivered 200`, `failed: …`, or `none`.
    pub delivery: String,
    pub created_at: Millis,
}

/// The alert's body: the same on every attempt (its time is the alert's).
pub(super) fn payload(budget: &Budget, a: &Alert) -> String {
    json!({
        "type": "budget.threshold_reached",
        "timestamp": rfc3339(a.created_at),
        "data": {
            "budget_id": budget.id,
            "tenant_id": budget.tenant_id,
            "api_key_id": budget.api_key_id,
            "threshold_percent": a.threshold,
            "spent_micros": a.spent_micros,
            "limit_micros": a.limit_micros,
            "period": budget.period.to_string(),
            "period_start": rfc3339(a.period_start),
            "message": format!("{} is {}% spent ({} of {})", budget.describe(),
                percent_spent(a.spent_micros, a.limit_micros), format_money(a.spent_micros),
                format_money(a.limit_micros)),
        }
    })
    .to_string()
}

/// POSTs the alert, signed, up to three times under the message id `id`;
/// whether it was delivered, and how it went.
pub(super) async fn deliver(
    svc: &Services,
    budget: &Budget,
    url: &str,
    id: &str,
    body: &str,
) -> (bool, String) {
    let secret = match secret(svc, &budget.id).await {
        Ok(Some(s)) => s,
        Ok(None) => return (false, "failed: the budget has no webhook secret".into()),
        Err(e) => return (false, format!("failed: {e}")),
    };
    // Stored before hosts were checked as the URL parser reads them, a
    // URL could name a private address in a spelling registration missed.
    let allowed = &svc.config.allow_private_upstreams;
    match reqwest::Url::parse(url) {
        Ok(u) if crate::server::net::literal_allowed(&u, allowed) => {}
        _ => {
            return (
                false,
                "failed: the webhook URL names a private address".into(),
            )
        }
    }
    let client = crate::server::net::client(allowed)
        .timeout(Duration::from_secs(10))
        .build();
    let Ok(client) = client else {
        return (false, "failed: no HTTP client".into());
    };
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        let ts = now_millis() / 1000;
        let Ok(sig) = webhook::sign(&secret, id, ts, body) else {
            return (false, "failed: the webhook secret is unreadable".into());
        };
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                return (true, format!("delivered {}", r.status().as_u16()))
            }
            Ok(r) => last = format!("failed: answered {}", r.status().as_u16()),
            Err(e) => last = format!("failed: {}", e.without_url()),
        }
    }
    tracing::warn!(budget_id = %budget.id, outcome = %last, "budget webhook not delivered");
    (false, last)
}

async fn secret(svc: &Services, budget_id: &str) -> Result<Option<String>> {
    let sealed = super::stored_secret(svc, budget_id).await?;
    Ok(sealed.map(|s| svc.secrets.open(&s)).transpose()?)
}

/// One round of attempts (the alert already claimed), then records how it
/// went and when the next round is due, if any.
pub(super) async fn round(
    svc: &Services,
    budget: &Budget,
    alert: &Alert,
    message_id: &str,
    attempts_before: i64,
) -> Result<()> {
    let Some(url) = budget.webhook_url.as_deref() else {
        return Ok(());
    };
    let body = payload(budget, alert);
    let (delivered, outcome) = deliver(svc, budget, url, message_id, &body).await;
    let attempts = attempts_before + ROUND_ATTEMPTS;
    let rounds = attempts / ROUND_ATTEMPTS;
    let (delivery, next) = if delivered {
        (outcome, None)
    } else if rounds >= MAX_ROUNDS {
        (
            format!("{outcome} (gave up after {attempts} attempts)"),
            None,
        )
    } else {
        let pause = 60_000 << (rounds - 1).clamp(0, 16);
        (
            format!("{outcome} (attempt {attempts}; retrying)"),
            Some(now_millis() + pause),
        )
    };
    settle(svc, alert, &delivery, next, attempts).await
}

pub(super) async fn settle(
    svc: &Services,
    alert: &Alert,
    delivery: &str,
    next: Option<Millis>,
    attempts: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE budget_alerts SET delivery = $1, next_attempt_at = $2, attempts = $3 \
         WHERE budget_id = $4 AND period_start = $5 AND threshold = $6",
    )
    .bind(delivery)
    .bind(next)
    .bind(attempts)
    .bind(&alert.budget_id)
    .bind(alert.period_start)
    .bind(alert.threshold)
    .execute(&svc.db.pool)
    .await?;
    Ok(())
}

//! A soft budget's alerts: recorded once per threshold per period (a second
//! replica's attempt is a no-op), audited, shown as a banner on the
//! tenant's pages, and POSTed to the budget's webhook signed as Standard
//! Webhooks specify.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::budget::{percent_spent, Budget};
use crate::domain::pricing::{format_money, Micros};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, rfc3339, Millis};
use crate::server::crypto::webhook;
use crate::server::services::audit::{self, Entry};
use crate::server::services::{Actor, Result, Services};

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

/// Records that `budget` reached `threshold` percent in the period that
/// starts at `period_start`; the first caller audits and notifies.
#[tracing::instrument(level = "debug", skip_all, fields(budget_id = %budget.id, threshold))]
pub async fn raise(
    svc: &Services,
    budget: &Budget,
    period_start: Millis,
    threshold: u8,
    spent: Micros,
) -> Result<()> {
    let now = now_millis();
    let message_id = format!("msg_{}", crate::server::services::new_id().replace('-', ""));
    // Due at once for the redeliverer should this process stop before
    // its own round ends; the round below claims it first.
    let due = budget
        .webhook_url
        .as_ref()
        .map(|_| now + super::redeliver::CLAIM_MS);
    let mut tx = svc.db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO budget_alerts (budget_id, tenant_id, period_start, threshold, \
         spent_micros, limit_micros, delivery, created_at, message_id, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&budget.id)
    .bind(budget.tenant_id.as_str())
    .bind(period_start)
    .bind(i64::from(threshold))
    .bind(spent)
    .bind(budget.limit_micros)
    .bind(if budget.webhook_url.is_some() {
        "pending"
    } else {
        "none"
    })
    .bind(now)
    .bind(&message_id)
    .bind(due)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    let entry = Entry::success(AuditAction::BudgetAlert, "budget", &budget.id)
        .tenant(&budget.tenant_id)
        .details(json!({ "threshold": threshold, "spent_micros": spent,
                         "limit_micros": budget.limit_micros, "budget": budget.describe(),
                         "period_start": rfc3339(period_start) }));
    audit::record(svc, &mut tx, &Actor::system("gateway"), entry).await?;
    tx.commit().await?;
    if budget.webhook_url.is_some() {
        let alert = Alert {
            budget_id: budget.id.clone(),
            period_start,
            threshold: i64::from(threshold),
            spent_micros: spent,
            limit_micros: budget.limit_micros,
            delivery: "pending".into(),
            created_at: now,
        };
        super::redeliver::round(svc, budget, &alert, &message_id, 0).await?;
    }
    Ok(())
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
    let client = crate::server::net::client(&svc.config.allow_private_upstreams)
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

/// The tenant's alerts, newest first (its own users may read them).
pub async fn list(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    limit: i64,
) -> Result<Vec<Alert>> {
    actor.require(tenant_id, Access::Read)?;
    Ok(sqlx::query_as(
        "SELECT budget_id, period_start, threshold, spent_micros, limit_micros, delivery, \
         created_at FROM budget_alerts WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(tenant_id.as_str())
    .bind(limit.clamp(1, 500))
    .fetch_all(&svc.db.pool)
    .await?)
}

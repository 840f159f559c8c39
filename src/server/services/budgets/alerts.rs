//! A soft budget's alerts: recorded once per threshold per period (a second
//! replica's attempt is a no-op), audited, shown as a banner on the
//! tenant's pages, and POSTed to the budget's webhook signed as Standard
//! Webhooks specify.

use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::budget::Budget;
use crate::domain::pricing::Micros;
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, rfc3339, Millis};
use crate::server::services::audit::{self, Entry};
use crate::server::services::{Actor, Result, Services};

use super::delivery;
pub use super::delivery::Alert;

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
        .map(|_| now + delivery::CLAIM_MS);
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
    audit::record(svc, &mut tx, &Actor::gateway(), entry).await?;
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
        delivery::round(svc, budget, &alert, &message_id, 0).await?;
    }
    Ok(())
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

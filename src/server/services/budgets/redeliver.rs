//! Durable retries of soft-budget webhooks. An alert with a webhook is
//! due until delivered: its first round runs when it is raised; a round
//! that fails (three quick attempts) makes it due again after a growing
//! pause, up to `MAX_ROUNDS`. A replica that stops mid-round leaves it due
//! (`CLAIM_MS` on), and any replica's redeliverer picks it up. Every
//! attempt carries the alert's one message id, so a receiver that got an
//! earlier attempt drops the duplicate, as Standard Webhooks intends.

use sqlx::FromRow;

use super::delivery::{round, settle, Alert, CLAIM_MS};
use super::{BudgetRow, COLUMNS, FROM};
use crate::domain::budget::Budget;
use crate::domain::time::{now_millis, Millis};
use crate::server::services::{Result, Services};

/// Alerts one pass takes at most.
const BATCH: i64 = 50;

#[derive(FromRow)]
struct Due {
    budget_id: String,
    period_start: i64,
    threshold: i64,
    spent_micros: i64,
    limit_micros: i64,
    created_at: i64,
    message_id: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
}

/// Runs a round for every alert due now that this process claims first;
/// returns how many it ran.
pub async fn run_once(svc: &Services) -> Result<usize> {
    let now = now_millis();
    let due: Vec<Due> = sqlx::query_as(
        "SELECT budget_id, period_start, threshold, spent_micros, limit_micros, created_at, \
         message_id, attempts, next_attempt_at FROM budget_alerts \
         WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(&svc.db.pool)
    .await?;
    let mut ran = 0;
    for d in due {
        if !claim(svc, &d, now).await? {
            continue;
        }
        let alert = Alert {
            budget_id: d.budget_id.clone(),
            period_start: d.period_start,
            threshold: d.threshold,
            spent_micros: d.spent_micros,
            limit_micros: d.limit_micros,
            delivery: String::new(),
            created_at: d.created_at,
        };
        let message_id = d
            .message_id
            .clone()
            .unwrap_or_else(|| format!("msg_{}_{}", d.budget_id, d.created_at));
        match budget(svc, &d.budget_id).await? {
            Some(b) => round(svc, &b, &alert, &message_id, d.attempts).await?,
            None => {
                settle(
                    svc,
                    &alert,
                    "failed: the budget no longer has a webhook",
                    None,
                    0,
                )
                .await?
            }
        }
        ran += 1;
    }
    Ok(ran)
}

/// Takes the alert for one round, unless another replica just did.
async fn claim(svc: &Services, d: &Due, now: Millis) -> Result<bool> {
    let taken = sqlx::query(
        "UPDATE budget_alerts SET next_attempt_at = $1 WHERE budget_id = $2 \
         AND period_start = $3 AND threshold = $4 AND next_attempt_at = $5",
    )
    .bind(now + CLAIM_MS)
    .bind(&d.budget_id)
    .bind(d.period_start)
    .bind(d.threshold)
    .bind(d.next_attempt_at)
    .execute(&svc.db.pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// The budget, if it still exists and has a webhook.
async fn budget(svc: &Services, id: &str) -> Result<Option<Budget>> {
    let row: Option<BudgetRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM {FROM} WHERE b.id = $1"))
            .bind(id)
            .fetch_optional(&svc.db.pool)
            .await?;
    Ok(row
        .map(Budget::try_from)
        .transpose()?
        .filter(|b| b.webhook_url.is_some()))
}

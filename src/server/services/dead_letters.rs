//! Dead letters: items a write-behind queue could not store because the
//! database refused them for good (a NUL PostgreSQL will not keep, a
//! broken constraint). They are kept here with the error for an operator,
//! counted in `/metrics` and shown on the dashboard.

use serde::Serialize;

use crate::domain::time::now_millis;

use super::{new_id, Actor, Result, Services};

/// Stores one refused item. The payload is JSON text (NUL escaped), so the
/// dead letter itself cannot be refused for the same reason.
pub async fn record(svc: &Services, queue: &str, item: &impl Serialize, error: &str) -> Result<()> {
    let payload = serde_json::to_string(item)
        .map_err(|e| super::ServiceError::Internal(format!("encoding a dead letter: {e}")))?;
    let error: String = error.chars().filter(|c| *c != '\0').take(2_000).collect();
    sqlx::query(
        "INSERT INTO dead_letters (id, queue, payload, error, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id())
    .bind(queue)
    .bind(payload)
    .bind(error)
    .bind(now_millis())
    .execute(&svc.db.pool)
    .await?;
    metrics::counter!("atrium_dead_letters_total", "queue" => queue.to_string()).increment(1);
    Ok(())
}

/// How many items wait in the dead-letter table (platform admins only).
pub async fn count(svc: &Services, actor: &Actor) -> Result<i64> {
    actor.require_platform_read()?;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM dead_letters")
        .fetch_one(&svc.db.pool)
        .await?;
    Ok(n)
}

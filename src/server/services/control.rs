//! The control-plane version: bumped in the same transaction as any change
//! that gateway caches depend on, and polled by every replica.

use std::time::Duration;

use sqlx::{Any, Executor};

use super::{Result, Services};

pub async fn bump<'c, E: Executor<'c, Database = Any>>(exec: E) -> Result<()> {
    sqlx::query("UPDATE control_version SET version = version + 1 WHERE id = 1")
        .execute(exec)
        .await?;
    Ok(())
}

pub async fn current(svc: &Services) -> Result<i64> {
    let v: i64 = sqlx::query_scalar("SELECT version FROM control_version WHERE id = 1")
        .fetch_one(&svc.db.pool)
        .await?;
    Ok(v)
}

/// Clears caches when another process (the CLI, another replica) changed the
/// control plane, so a change takes effect everywhere within one poll period.
pub fn spawn_watcher(svc: Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_millis(svc.config.cache_poll_ms.max(50));
        let mut seen = current(&svc).await.unwrap_or(-1);
        loop {
            tokio::time::sleep(period).await;
            match current(&svc).await {
                Ok(v) if v != seen => {
                    seen = v;
                    svc.invalidate_caches();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "control version poll failed"),
            }
        }
    })
}

/// Commits a change the gateway's caches depend on: audited in the same
/// transaction, versioned for other processes, and dropped from this
/// process's caches at once.
pub async fn commit(
    svc: &Services,
    mut tx: sqlx::Transaction<'_, Any>,
    actor: &super::Actor,
    entry: super::audit::Entry<'_>,
) -> Result<()> {
    super::audit::record(&mut tx, actor, entry).await?;
    bump(&mut *tx).await?;
    tx.commit().await?;
    svc.invalidate_caches();
    Ok(())
}

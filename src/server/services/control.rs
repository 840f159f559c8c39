//! The control-plane version: bumped in the same transaction as any change
//! that gateway caches depend on, and polled by every replica.

use std::time::Duration;

use sqlx::{Any, Executor};

use super::{Result, Services};

#[tracing::instrument(level = "debug", skip_all)]
pub async fn bump<'c, E: Executor<'c, Database = Any>>(exec: E) -> Result<()> {
    sqlx::query("UPDATE control_version SET version = version + 1 WHERE id = 1")
        .execute(exec)
        .await?;
    Ok(())
}

/// Bumps the version and returns it, in the caller's transaction: rows
/// stamped with it are newer than any a cache loaded at an older version.
/// The version row stays locked until the transaction ends, so stamped
/// rows commit in version order.
pub async fn next_version(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    let v: i64 = sqlx::query_scalar(
        "UPDATE control_version SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .fetch_one(conn)
    .await?;
    Ok(v)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn current(svc: &Services) -> Result<i64> {
    let v: i64 = sqlx::query_scalar("SELECT version FROM control_version WHERE id = 1")
        .fetch_one(&svc.db.pool)
        .await?;
    Ok(v)
}

/// Rebuilds the caches when another process (the CLI, another replica)
/// changed the control plane, so a change takes effect everywhere within
/// one poll period. A failed rebuild is tried again at the next poll.
pub fn spawn_watcher(svc: Services, mut seen: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_millis(svc.config.cache_poll_ms.max(50));
        loop {
            tokio::time::sleep(period).await;
            match current(&svc).await {
                Ok(v) if v != seen => match svc.refresh_caches().await {
                    Ok(()) => seen = v,
                    Err(e) => tracing::warn!(error = ?e, "cache refresh failed; retrying"),
                },
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "control version poll failed"),
            }
        }
    })
}

/// Loads the caches before the server takes requests; returns the version
/// they reflect, for the watcher to start from.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prime(svc: &Services) -> Result<i64> {
    let version = current(svc).await?;
    svc.refresh_caches().await?;
    Ok(version)
}

/// Commits a change the gateway's caches depend on: audited in the same
/// transaction, versioned for other processes, and rebuilt in this
/// process's caches before returning. The change is committed even if that
/// rebuild fails; the watcher then retries it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn commit(
    svc: &Services,
    mut tx: sqlx::Transaction<'_, Any>,
    actor: &super::Actor,
    entry: super::audit::Entry<'_>,
) -> Result<()> {
    super::audit::record(svc, &mut tx, actor, entry).await?;
    bump(&mut *tx).await?;
    tx.commit().await?;
    if let Err(e) = svc.refresh_caches().await {
        tracing::warn!(error = ?e, "cache refresh after a change failed; the watcher retries");
    }
    Ok(())
}

/// Holds the tenant's row until the transaction ends, so a quota counted
/// after it cannot be overshot by the tenant's own concurrent creates
/// (PostgreSQL row lock; SQLite's write lock). Changes nothing.
pub async fn lock_tenant(conn: &mut sqlx::AnyConnection, tenant_id: &str) -> Result<()> {
    sqlx::query("UPDATE tenants SET revision = revision WHERE id = $1")
        .bind(tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}

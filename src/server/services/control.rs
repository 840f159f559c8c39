//! The control-plane version: bumped in the same transaction as any change
//! that gateway caches depend on, and polled by every replica.

use std::time::Duration;

use sqlx::Any;

use super::{Result, Services};

/// The gateway caches a change can touch. A change names the ones it
/// touched, and every replica rebuilds only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caches(u8);

impl Caches {
    pub const CATALOG: Caches = Caches(1);
    pub const POLICIES: Caches = Caches(2);
    pub const FLAGS: Caches = Caches(4);
    pub const BUDGETS: Caches = Caches(8);
    pub const KEYS: Caches = Caches(16);
    pub const ALL: Caches = Caches(31);
    pub const NONE: Caches = Caches(0);

    /// Each cache with its row in `cache_versions`, in rebuild order: keys
    /// first, so a revocation lands even while another cache cannot load.
    pub const EACH: [(Caches, &'static str); 5] = [
        (Caches::KEYS, "keys"),
        (Caches::CATALOG, "catalog"),
        (Caches::POLICIES, "policies"),
        (Caches::FLAGS, "flags"),
        (Caches::BUDGETS, "budgets"),
    ];

    pub const fn and(self, other: Caches) -> Caches {
        Caches(self.0 | other.0)
    }

    pub const fn contains(self, other: Caches) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn names(self) -> impl Iterator<Item = &'static str> {
        Caches::EACH
            .into_iter()
            .filter(move |(c, _)| self.contains(*c))
            .map(|(_, name)| name)
    }

    pub fn without(self, other: Caches) -> Caches {
        Caches(self.0 & !other.0)
    }

    fn named(name: &str) -> Caches {
        Caches::EACH
            .into_iter()
            .find(|(_, n)| *n == name)
            .map_or(Caches::NONE, |(c, _)| c)
    }
}

/// Bumps the control-plane version, and stamps the touched caches with it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn bump(conn: &mut sqlx::AnyConnection, caches: Caches) -> Result<()> {
    Ok(stamp(conn, caches).await?)
}

/// `bump`, for writers below the service layer's error type (the store
/// layer switching a tenant's isolation).
pub async fn stamp(conn: &mut sqlx::AnyConnection, caches: Caches) -> sqlx::Result<()> {
    let version = next(&mut *conn).await?;
    // The names are this module's constants, never input.
    let names: Vec<String> = caches.names().map(|n| format!("'{n}'")).collect();
    if names.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "UPDATE cache_versions SET version = $1 WHERE name IN ({})",
        names.join(", ")
    ))
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Bumps the version and returns it, in the caller's transaction: rows
/// stamped with it are newer than any a cache loaded at an older version.
/// The version row stays locked until the transaction ends, so stamped
/// rows commit in version order.
pub async fn next_version(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    Ok(next(conn).await?)
}

async fn next(conn: &mut sqlx::AnyConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "UPDATE control_version SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .fetch_one(conn)
    .await
}

/// Each cache's version as the database holds it, and the control-plane
/// version under `CONTROL`.
pub type Seen = std::collections::HashMap<String, i64>;

const CONTROL: &str = "control";

#[tracing::instrument(level = "debug", skip_all)]
pub async fn current(svc: &Services) -> Result<Seen> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, version FROM cache_versions \
         UNION ALL SELECT 'control', version FROM control_version WHERE id = 1",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The caches whose version moved from `seen` to `now`. A control-plane
/// version ahead of every cache's is a change that named none (made by an
/// older binary during a rolling upgrade): every cache is rebuilt.
fn moved(seen: &Seen, now: &Seen) -> Caches {
    let control = now.get(CONTROL).copied().unwrap_or(0);
    let newest = now
        .iter()
        .filter(|(name, _)| *name != CONTROL)
        .map(|(_, v)| *v)
        .max()
        .unwrap_or(0);
    if seen.get(CONTROL) != Some(&control) && control > newest {
        return Caches::ALL;
    }
    now.iter()
        .filter(|(name, v)| seen.get(*name) != Some(*v))
        .fold(Caches::NONE, |acc, (name, _)| acc.and(Caches::named(name)))
}

/// `now`, except that the caches that failed to rebuild keep their old
/// versions (and the control version too), so the next poll retries them.
fn settled(seen: &Seen, mut now: Seen, failed: Caches) -> Seen {
    if failed.is_empty() {
        return now;
    }
    for (cache, name) in Caches::EACH {
        if failed.contains(cache) {
            now.insert(name.into(), seen.get(name).copied().unwrap_or(-1));
        }
    }
    now.insert(CONTROL.into(), seen.get(CONTROL).copied().unwrap_or(-1));
    now
}

/// Rebuilds the caches another process (the CLI, another replica) changed,
/// and only those, so a change takes effect everywhere within one poll
/// period. A failed rebuild is tried again at the next poll.
pub fn spawn_watcher(svc: Services, mut seen: Seen) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_millis(svc.config.cache_poll_ms.max(50));
        loop {
            tokio::time::sleep(period).await;
            let now = match current(&svc).await {
                Ok(now) => now,
                Err(e) => {
                    tracing::warn!(error = %e, "cache version poll failed");
                    continue;
                }
            };
            let changed = moved(&seen, &now);
            if changed.is_empty() {
                continue;
            }
            // Each cache on its own: one that cannot load holds up no other.
            let failed = svc.refresh_each(changed).await;
            seen = settled(&seen, now, failed);
        }
    })
}

/// Loads the caches before the server takes requests; returns the versions
/// they reflect, for the watcher to start from.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prime(svc: &Services) -> Result<Seen> {
    let versions = current(svc).await?;
    svc.refresh_caches().await?;
    Ok(versions)
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
    caches: Caches,
) -> Result<()> {
    super::audit::record(svc, &mut tx, actor, entry).await?;
    bump(&mut tx, caches).await?;
    tx.commit().await?;
    if let Err(e) = svc.refresh(caches).await {
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

//! Who may change a tenant's store (migration 36).
//!
//! - An erasure and a move exclude each other. A move copies the source
//!   page by page, so a row it copied before an erasure deleted it in the
//!   source would live on in the target. An erasure holds the store while
//!   it deletes: no move starts while a hold is live, and no hold is taken
//!   while a move runs (an interrupted one included).
//! - One run of a move copies at a time: a second run still copying after
//!   the first had switched would put erased rows back into the new store.
//!
//! Both take the tenant's `tenant_stores` row first, so the database
//! orders them across replicas (PostgreSQL's row lock, SQLite's writer),
//! and every lease is on the database's clock. A lease ends: a process
//! killed mid-way blocks the other side for at most its lease.

use super::TenantStores;
use crate::domain::time::{HOUR, MINUTE};
use crate::server::db::{Db, DbError};

/// An erasure's hold, if it is never released (a killed process).
const ERASURE_LEASE_MS: i64 = HOUR;
/// A move's claim, renewed with every page it copies.
const MOVE_LEASE_MS: i64 = 10 * MINUTE;
/// Raises the store's erasure lease to at least `$1` (a hold's end).
const RAISE_LEASE: &str = "erasing_until = CASE WHEN erasing_until IS NULL \
    OR erasing_until < $1 THEN $1 ELSE erasing_until END";
/// How often a running erasure renews its hold.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A live erasure of the tenant's data. Give it back with
/// [`TenantStores::release_erasure`]; dropped unreleased (a caller that
/// hung up), it is released in the background.
pub struct ErasureHold {
    id: String,
    tenant_id: String,
    db: Option<Db>,
}

impl Drop for ErasureHold {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            let (id, tenant_id) = (self.id.clone(), self.tenant_id.clone());
            in_background(async move { release_hold(&db, &tenant_id, &id).await });
        }
    }
}

/// A run of a move, holding the tenant's store. Dropped unreleased (an
/// admin who hung up mid-move), it is released in the background.
pub struct MoveClaim {
    pub(super) run: String,
    pub(super) tenant_id: String,
    db: Option<Db>,
}

impl Drop for MoveClaim {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            let (run, tenant_id) = (self.run.clone(), self.tenant_id.clone());
            in_background(async move { release_claim(&db, &tenant_id, &run).await });
        }
    }
}

/// A release that a dropped hold or claim still owes; its lease ends it
/// if this fails too.
fn in_background(release: impl std::future::Future<Output = Result<(), DbError>> + Send + 'static) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            if let Err(e) = release.await {
                tracing::warn!(error = %e, "releasing a claim on a tenant's store failed");
            }
        });
    }
}

impl TenantStores {
    /// Takes a hold for an erasure, unless the tenant's data is moving.
    /// Several erasures may hold the store at once, each with its lease.
    pub async fn hold_for_erasure(&self, tenant_id: &str) -> Result<ErasureHold, DbError> {
        let now = self.main.clock_ms().await?;
        let until = now.saturating_add(ERASURE_LEASE_MS);
        let mut tx = self.main.pool.begin().await?;
        let held = sqlx::query(&format!(
            "UPDATE tenant_stores SET {RAISE_LEASE} WHERE tenant_id = $2 AND target_level IS NULL"
        ))
        .bind(until)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held != 1 {
            tx.rollback().await?;
            let p = self.placement(tenant_id).await?.ok_or(DbError::NoStore)?;
            return Err(match p.target {
                Some(target) => DbError::MovePending(target.level().as_str().to_string()),
                // The move ended between the two statements: a retry holds.
                None => DbError::MoveRunning,
            });
        }
        sqlx::query("DELETE FROM erasure_holds WHERE tenant_id = $1 AND until < $2")
            .bind(tenant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        sqlx::query("INSERT INTO erasure_holds (id, tenant_id, until) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(tenant_id)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ErasureHold {
            id,
            tenant_id: tenant_id.to_string(),
            db: Some(self.main.clone()),
        })
    }

    /// Gives a hold back; the store's lease becomes the latest of the
    /// holds left.
    /// Cancelled midway, the hold's drop releases it again (harmless).
    pub async fn release_erasure(&self, mut hold: ErasureHold) -> Result<(), DbError> {
        release_hold(&self.main, &hold.tenant_id, &hold.id).await?;
        hold.db = None;
        Ok(())
    }

    /// Runs `work` (the erasure), renewing `hold` every few minutes so an
    /// erasure longer than its lease stays exclusive.
    pub async fn while_held<F: std::future::Future>(
        &self,
        hold: &ErasureHold,
        work: F,
    ) -> F::Output {
        tokio::pin!(work);
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.tick().await;
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = renew.tick() => {
                    if let Err(e) = self.renew_hold(hold).await {
                        tracing::warn!(error = %e, tenant_id = %hold.tenant_id, "renewing an erasure hold failed");
                    }
                }
            }
        }
    }

    async fn renew_hold(&self, hold: &ErasureHold) -> Result<(), DbError> {
        let until = self.main.clock_ms().await?.saturating_add(ERASURE_LEASE_MS);
        let mut tx = self.main.pool.begin().await?;
        sqlx::query(&format!(
            "UPDATE tenant_stores SET {RAISE_LEASE} WHERE tenant_id = $2"
        ))
        .bind(until)
        .bind(&hold.tenant_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE erasure_holds SET until = $1 WHERE id = $2")
            .bind(until)
            .bind(&hold.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the erasures holding the tenant's store let go at the latest,
    /// if one is live now.
    pub(super) async fn erasing_until(&self, tenant_id: &str) -> Result<Option<i64>, DbError> {
        let now = self.main.clock_ms().await?;
        let until: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT erasing_until FROM tenant_stores WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.main.pool)
                .await?;
        Ok(until.and_then(|(u,)| u).filter(|u| *u >= now))
    }

    /// Claims the store for one run of a move; another live run refuses.
    pub(super) async fn claim_move(&self, tenant_id: &str) -> Result<MoveClaim, DbError> {
        let now = self.main.clock_ms().await?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let claimed = sqlx::query(
            "UPDATE tenant_stores SET mover = $1, moving_until = $2 \
             WHERE tenant_id = $3 AND (mover IS NULL OR moving_until < $4)",
        )
        .bind(&run)
        .bind(now.saturating_add(MOVE_LEASE_MS))
        .bind(tenant_id)
        .bind(now)
        .execute(&self.main.pool)
        .await?
        .rows_affected();
        match claimed {
            1 => Ok(MoveClaim {
                run,
                tenant_id: tenant_id.to_string(),
                db: Some(self.main.clone()),
            }),
            _ => match self.placement(tenant_id).await? {
                Some(_) => Err(DbError::MoveRunning),
                None => Err(DbError::NoStore),
            },
        }
    }

    /// Extends the claim while the move works; a claim lost meanwhile (its
    /// lease ran out and another run took it) stops this run.
    pub(super) async fn renew_move(&self, claim: &MoveClaim) -> Result<(), DbError> {
        let now = self.main.clock_ms().await?;
        let renewed = sqlx::query(
            "UPDATE tenant_stores SET moving_until = $1 WHERE tenant_id = $2 AND mover = $3",
        )
        .bind(now.saturating_add(MOVE_LEASE_MS))
        .bind(&claim.tenant_id)
        .bind(&claim.run)
        .execute(&self.main.pool)
        .await?
        .rows_affected();
        match renewed {
            1 => Ok(()),
            _ => Err(DbError::MoveRunning),
        }
    }

    /// Ends the claim (whatever became of the move).
    pub(super) async fn release_move(&self, mut claim: MoveClaim) {
        match release_claim(&self.main, &claim.tenant_id, &claim.run).await {
            Ok(()) => claim.db = None,
            // Dropping the claim tries once more; its lease ends it.
            Err(e) => {
                tracing::warn!(error = %e, tenant_id = %claim.tenant_id, "releasing a move's claim failed")
            }
        }
    }
}

async fn release_claim(db: &Db, tenant_id: &str, run: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE tenant_stores SET mover = NULL, moving_until = NULL \
         WHERE tenant_id = $1 AND mover = $2",
    )
    .bind(tenant_id)
    .bind(run)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Deletes one hold and sets the store's lease to the latest left. The
/// tenant's row is taken first, so a hold committed before this reads the
/// holds is counted, and one after it raises the lease itself.
async fn release_hold(db: &Db, tenant_id: &str, id: &str) -> Result<(), DbError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE tenant_stores SET updated_at = updated_at WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM erasure_holds WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE tenant_stores SET erasing_until = (SELECT MAX(until) FROM erasure_holds \
         WHERE tenant_id = $1) WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

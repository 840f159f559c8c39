//! Erasures and moves of one tenant's data exclude each other (migration
//! 36). A move copies the source page by page, so a row it copied before
//! an erasure deleted it in the source would live on in the target. An
//! erasure therefore holds the tenant's store while it deletes: no move
//! starts while a hold is live, and no hold is taken while a move runs
//! (an interrupted one included). Both claims update the tenant's one
//! `tenant_stores` row, so the database orders them across replicas.

use super::TenantStores;
use crate::domain::time::{now_millis, HOUR};
use crate::server::db::DbError;

/// How long a hold lasts if its erasure never releases it (a killed
/// process): moves of the tenant wait at most this long.
const LEASE_MS: i64 = HOUR;

/// A live erasure of the tenant's data; give it back with
/// [`TenantStores::release_erasure`].
#[must_use = "a hold blocks the tenant's moves until it is released or expires"]
pub struct ErasureHold {
    tenant_id: String,
}

impl TenantStores {
    /// Takes a hold for an erasure, unless the tenant's data is moving.
    /// Several erasures may hold the store at once; each renews the lease.
    pub async fn hold_for_erasure(&self, tenant_id: &str) -> Result<ErasureHold, DbError> {
        let now = now_millis();
        let held = sqlx::query(
            "UPDATE tenant_stores SET erasures = CASE WHEN erasing_until IS NULL \
             OR erasing_until < $1 THEN 1 ELSE erasures + 1 END, erasing_until = $2 \
             WHERE tenant_id = $3 AND target_level IS NULL",
        )
        .bind(now)
        .bind(now.saturating_add(LEASE_MS))
        .bind(tenant_id)
        .execute(&self.main.pool)
        .await?
        .rows_affected();
        if held == 1 {
            return Ok(ErasureHold {
                tenant_id: tenant_id.to_string(),
            });
        }
        let p = self.placement(tenant_id).await?.ok_or(DbError::NoStore)?;
        match p.target {
            Some(target) => Err(DbError::MovePending(target.level().as_str().to_string())),
            // The move ended between the two statements: the caller may retry.
            None => Err(DbError::MoveRunning),
        }
    }

    /// Gives a hold back; the last one out clears the lease.
    pub async fn release_erasure(&self, hold: ErasureHold) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE tenant_stores SET erasures = erasures - 1, erasing_until = CASE \
             WHEN erasures <= 1 THEN NULL ELSE erasing_until END \
             WHERE tenant_id = $1 AND erasures > 0",
        )
        .bind(&hold.tenant_id)
        .execute(&self.main.pool)
        .await?;
        Ok(())
    }

    /// When the erasures holding the tenant's store let go at the latest,
    /// if any is live now.
    pub(super) async fn erasing_until(&self, tenant_id: &str) -> Result<Option<i64>, DbError> {
        let until: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT erasing_until FROM tenant_stores WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.main.pool)
                .await?;
        Ok(until.and_then(|(u,)| u).filter(|u| *u >= now_millis()))
    }
}

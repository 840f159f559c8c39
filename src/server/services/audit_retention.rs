//! Audit retention: each tenant's events past its retention are purged,
//! the chain's anchor moved and the purge itself recorded, so `verify`
//! still passes; the request log's retention runs on the same schedule.

use crate::domain::audit::AuditAction;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, DAY};

use super::audit::{record, Entry};
use super::{audit_chain, Actor, Result, Services};

/// Removes each tenant's events older than its retention setting, moving
/// the chain's anchor and recording the purge in the chain, so that
/// `verify` still passes. Returns how many events were removed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn purge_expired(svc: &Services) -> Result<u64> {
    let tenants: Vec<(TenantId, i64)> = sqlx::query_as(
        "SELECT id, audit_retention_days FROM tenants WHERE audit_retention_days IS NOT NULL",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut removed = 0;
    for (tenant_id, days) in tenants {
        let cutoff = now_millis() - days.max(0) * DAY;
        let through: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(chain_seq) FROM audit_events WHERE chain = $1 AND at < $2 AND chain_seq > 0",
        )
        .bind(&tenant_id)
        .bind(cutoff)
        .fetch_one(&svc.db.pool)
        .await?;
        let Some(through) = through else { continue };
        let mut tx = svc.db.pool.begin().await?;
        let n = audit_chain::purge_through(&mut tx, &tenant_id, through).await?;
        let entry = Entry::success(AuditAction::AuditPurge, "tenant", &tenant_id)
            .tenant(&tenant_id)
            .details(serde_json::json!({ "purged_through": through, "events": n,
                                          "older_than_days": days }));
        record(svc, &mut tx, &Actor::system("retention"), entry).await?;
        tx.commit().await?;
        removed += n;
    }
    Ok(removed)
}

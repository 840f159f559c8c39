//! The request log's settings per tenant, and its retention purge.

use serde_json::json;

use super::super::audit::{self, Entry};
use super::super::{control, tenants, Actor, Result, Services};
use crate::domain::audit::AuditAction;
use crate::domain::request_log::LogSettings;
use crate::domain::role::Access;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time::{now_millis, DAY};

/// Turns the tenant's request log on (`full` or `hashes`) or off, with its
/// retention. A tenant admin decides for their own tenant: the log holds
/// the tenant's data, and the tenant is its controller.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn set(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    settings: LogSettings,
) -> Result<Tenant> {
    actor.require(id, Access::Manage)?;
    let before = tenants::get(svc, actor, id).await?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE tenants SET revision = revision + 1, request_log_mode = $1, request_log_retention_days = $2, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(settings.mode.as_str())
    .bind(settings.retention_days)
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::TenantRequestLog, "tenant", id)
        .tenant(id)
        .details(json!({ "before": before.request_log, "after": settings }));
    // The gateway reads the setting from the key cache: commit refreshes it.
    control::commit(svc, tx, actor, entry, control::Caches::KEYS).await?;
    tenants::get(svc, actor, id).await
}

/// The controller's contact and its DPO, as the record of processing names them.
pub async fn set_contacts(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    controller: Option<&str>,
    dpo: Option<&str>,
) -> Result<Tenant> {
    actor.require(id, Access::Manage)?;
    let clean = |field: &'static str, v: Option<&str>| {
        let v = v.map(str::trim).filter(|v| !v.is_empty());
        match v {
            Some(v) if v.len() > 500 => Err(crate::domain::validation::Invalid::new(
                field,
                "must be at most 500 characters",
            )),
            v => Ok(v.map(str::to_string)),
        }
    };
    let (controller, dpo) = (clean("controller", controller)?, clean("dpo", dpo)?);
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE tenants SET revision = revision + 1, controller_contact = $1, dpo_contact = $2, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(&controller)
    .bind(&dpo)
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::TenantContacts, "tenant", id)
        .tenant(id)
        .details(json!({ "controller": controller, "dpo": dpo }));
    control::commit(svc, tx, actor, entry, control::Caches::KEYS).await?;
    tenants::get(svc, actor, id).await
}

/// Removes log rows past each tenant's retention; every purge that removed
/// something is audited in the tenant's chain. Returns rows removed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn purge_expired(svc: &Services) -> Result<u64> {
    purge_expired_at(svc, now_millis()).await
}

/// As `purge_expired`, as if the time were `now`.
pub async fn purge_expired_at(svc: &Services, now: i64) -> Result<u64> {
    let tenants: Vec<(TenantId, i64)> = sqlx::query_as(
        "SELECT id, request_log_retention_days FROM tenants \
         WHERE request_log_retention_days IS NOT NULL",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut removed = 0;
    for (tenant_id, days) in tenants {
        let cutoff = now.saturating_sub(days.max(0).saturating_mul(DAY));
        let n = svc
            .stores
            .open(&tenant_id)
            .await?
            .purge_log_before(cutoff)
            .await?;
        if n == 0 {
            continue;
        }
        let entry = Entry::success(AuditAction::RequestLogPurge, "tenant", &tenant_id)
            .tenant(&tenant_id)
            .details(json!({ "rows": n, "before": cutoff, "older_than_days": days }));
        audit::append(svc, &Actor::system("retention"), entry).await?;
        removed += n;
    }
    Ok(removed)
}

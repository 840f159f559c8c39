//! A tenant's data store as an administrator sees it: where it lives, how
//! big it is, and moving it to another isolation level (erasing it is
//! part of deleting the tenant: `tenants::erase`).

use crate::domain::tenant::TenantId;
use serde_json::json;

use crate::domain::audit::{AuditAction, AuditStatus};
use crate::domain::role::Access;
use crate::domain::tenant::{IsolationLevel, MoveReport, TenantData};
use crate::domain::time::now_millis;
use crate::server::db::tenant_store::OnSwitch;
use crate::server::db::DbError;

use super::audit::{self, Entry};
use super::{tenants, Actor, Result, ServiceError, Services};

#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn data(svc: &Services, actor: &Actor, tenant_id: &TenantId) -> Result<TenantData> {
    actor.require(tenant_id, Access::Read)?;
    let mut data = svc.stores.stats(tenant_id).await?;
    if !actor.role.is_platform() {
        // Schema, database and file names are the operator's business.
        data.location = data.level.label().to_string();
    }
    Ok(data)
}

/// Moves the tenant's data to `level` while it keeps serving; the move is
/// audited whether it succeeds or fails.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn set_isolation(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    level: IsolationLevel,
) -> Result<MoveReport> {
    actor.require_platform_admin()?;
    let tenant = tenants::get(svc, actor, tenant_id).await?;
    if tenant.isolation == level {
        return Err(ServiceError::Conflict(format!(
            "the tenant's data is already {}",
            level.as_str()
        )));
    }
    let id = tenant_id.clone();
    let on_switch: OnSwitch<'_> = Box::new(move |tx| Box::pin(record_isolation(tx, id, level)));
    let result = svc.stores.move_tenant(tenant_id, level, on_switch).await;
    let (status, details) = match &result {
        Ok(report) => (AuditStatus::Success, json!(report)),
        Err(e) => (
            AuditStatus::Failure,
            json!({ "from": tenant.isolation, "to": level, "error": e.to_string() }),
        ),
    };
    let entry = Entry::success(AuditAction::TenantSetIsolation, "tenant", tenant_id)
        .tenant(tenant_id)
        .status(status)
        .details(details);
    audit::append(svc, actor, entry).await?;
    Ok(result?)
}

/// Records a tenant's new isolation level, inside the transaction that
/// switches its data store (`TenantStores::move_tenant`).
async fn record_isolation(
    conn: &mut sqlx::AnyConnection,
    tenant_id: TenantId,
    level: IsolationLevel,
) -> std::result::Result<(), DbError> {
    sqlx::query(
        "UPDATE tenants SET revision = revision + 1, isolation = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(level.as_str())
    .bind(now_millis())
    .bind(&tenant_id)
    .execute(&mut *conn)
    .await?;
    // The key cache holds the tenant's row (flag targeting reads its
    // isolation level): every replica rebuilds it.
    super::control::stamp(conn, super::control::Caches::KEYS).await?;
    Ok(())
}

//! Tenants: the organisations sharing this deployment.

use crate::domain::audit::AuditAction;
use serde_json::json;
use sqlx::FromRow;

use crate::domain::request_log::LogSettings;
use crate::domain::role::Access;
use crate::domain::tenant::{
    name_key, IsolationLevel, NewTenant, Tenant, TenantId, TenantPatch, TenantSettings,
    TenantStatus,
};
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

mod erase;
mod listing;

pub use listing::{list, list_cursor, names};

use super::audit::{self, Entry};
use super::{control, Actor, Result, ServiceError, Services};
use crate::server::db::tenant_store::{Location, TenantStores};

/// Every read of a tenant also reads its current plan: the latest
/// subscription (subscriptions only ever start now, never later).
pub(super) const COLUMNS: &str =
    "id, name, isolation, data_location, rpm_limit, tpm_limit, status, audit_retention_days, \
     request_log_mode, request_log_retention_days, controller_contact, dpo_contact, created_at, updated_at, revision, (SELECT p.name FROM subscriptions s JOIN plans p ON p.id = s.plan_id \
     WHERE s.tenant_id = tenants.id ORDER BY s.effective_from DESC LIMIT 1) AS plan";

#[derive(FromRow)]
pub(super) struct TenantRow {
    id: TenantId,
    name: String,
    isolation: String,
    data_location: String,
    rpm_limit: i64,
    tpm_limit: i64,
    status: String,
    audit_retention_days: Option<i64>,
    request_log_mode: String,
    request_log_retention_days: Option<i64>,
    controller_contact: Option<String>,
    dpo_contact: Option<String>,
    created_at: i64,
    updated_at: i64,
    revision: i64,
    plan: Option<String>,
}

impl TenantRow {
    pub(super) fn into_tenant(self) -> Result<Tenant> {
        let isolation: IsolationLevel = self.isolation.parse()?;
        let status = TenantStatus::parse(&self.status)
            .ok_or_else(|| ServiceError::Internal(format!("bad tenant status {}", self.status)))?;
        Ok(Tenant {
            id: self.id,
            name: self.name,
            isolation,
            data_location: self.data_location,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            status,
            audit_retention_days: self.audit_retention_days,
            plan: self.plan,
            request_log: LogSettings {
                mode: self.request_log_mode.parse()?,
                retention_days: self.request_log_retention_days,
            },
            controller_contact: self.controller_contact,
            dpo_contact: self.dpo_contact,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revision: self.revision,
        })
    }
}

/// Creates a tenant from what a caller sent: the caller's right to
/// create is checked before the input, so a caller without it learns
/// nothing from validation messages.
pub async fn create_from(svc: &Services, actor: &Actor, new: &NewTenant) -> Result<Tenant> {
    actor.require_platform_admin()?;
    create(svc, actor, new.settings()?).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(svc: &Services, actor: &Actor, settings: TenantSettings) -> Result<Tenant> {
    actor.require_platform_admin()?;
    let now = now_millis();
    let tenant = Tenant {
        id: TenantId::random(),
        name: settings.name,
        isolation: settings.isolation,
        data_location: settings.data_location,
        rpm_limit: settings.rpm_limit,
        tpm_limit: settings.tpm_limit,
        status: TenantStatus::Active,
        audit_retention_days: None,
        plan: None,
        request_log: LogSettings::default(),
        controller_contact: None,
        dpo_contact: None,
        created_at: now,
        updated_at: now,
        revision: 1,
    };
    // The store first: a tenant row never points at a store that is not there.
    let location = svc.stores.provision(&tenant.id, tenant.isolation).await?;
    if let Err(e) = insert(svc, actor, &tenant, &location).await {
        if let Err(cleanup) = svc.stores.erase(&tenant.id, &location).await {
            tracing::error!(error = %cleanup, tenant_id = %tenant.id, "removing a half-created store failed");
        }
        return Err(e);
    }
    Ok(tenant)
}

async fn insert(svc: &Services, actor: &Actor, tenant: &Tenant, location: &Location) -> Result<()> {
    let now = tenant.created_at;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO tenants (id, name, name_key, isolation, data_location, rpm_limit, \
         tpm_limit, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(name_key(&tenant.name))
    .bind(tenant.isolation.as_str())
    .bind(&tenant.data_location)
    .bind(tenant.rpm_limit)
    .bind(tenant.tpm_limit)
    .bind(tenant.status.as_str())
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on("a tenant with this name"))?;
    TenantStores::register(&mut tx, &tenant.id, location).await?;
    let entry = Entry::success(AuditAction::TenantCreate, "tenant", &tenant.id)
        .tenant(&tenant.id)
        .details(json!({ "name": tenant.name, "isolation": tenant.isolation,
                          "store": location.describe(svc.db.backend),
                          "data_location": tenant.data_location,
                          "rpm_limit": tenant.rpm_limit, "tpm_limit": tenant.tpm_limit }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn get(svc: &Services, actor: &Actor, id: &TenantId) -> Result<Tenant> {
    actor.require(id, Access::Read)?;
    fetch(svc, id)
        .await?
        .ok_or(ServiceError::NotFound("tenant"))
}

async fn fetch(svc: &Services, id: &TenantId) -> Result<Option<Tenant>> {
    let row: Option<TenantRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&svc.db.pool)
            .await?;
    row.map(TenantRow::into_tenant).transpose()
}

/// Resolves what a person typed: an id, or a name in any case.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(svc: &Services, actor: &Actor, name_or_id: &str) -> Result<Tenant> {
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tenants WHERE id = $1 OR name_key = $2"
    ))
    .bind(name_or_id.trim())
    .bind(name_key(name_or_id))
    .fetch_optional(&svc.db.pool)
    .await?;
    let tenant = row
        .map(TenantRow::into_tenant)
        .transpose()?
        .ok_or(ServiceError::NotFound("tenant"))?;
    actor.require(&tenant.id, Access::Read)?;
    Ok(tenant)
}

/// Changes name, region and limits. The isolation level moves data, so it
/// is changed by its own operation, not here.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn update(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    settings: TenantSettings,
) -> Result<Tenant> {
    update_if(svc, actor, id, settings, None).await
}

/// As `update`, applied only while the tenant is at `expected` revision
/// (the admin API's `If-Match`). Without one, the write still applies
/// only to the row that was read, so a concurrent change is never
/// silently overwritten with stale values.
pub async fn update_if(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    settings: TenantSettings,
    expected: Option<i64>,
) -> Result<Tenant> {
    actor.require_platform_admin()?;
    let before = get(svc, actor, id).await?;
    apply_update(svc, actor, &before, settings, expected).await
}

/// Writes `settings` over `before`, only while the row is still at the
/// revision `before` was read at (and at `expected`, when the caller
/// named one): the audit's "before" is then exactly what was replaced.
async fn apply_update(
    svc: &Services,
    actor: &Actor,
    before: &Tenant,
    settings: TenantSettings,
    expected: Option<i64>,
) -> Result<Tenant> {
    let id = &before.id;
    let revision = before.revision;
    if expected.is_some_and(|e| e != revision) {
        return Err(stale(expected));
    }
    if settings.isolation != before.isolation {
        return Err(Invalid::new(
            "isolation",
            "is changed with the isolation move, not by editing settings",
        )
        .into());
    }
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE tenants SET revision = revision + 1, name = $1, name_key = $2, data_location = $3, rpm_limit = $4, \
         tpm_limit = $5, updated_at = $6 WHERE id = $7 AND revision = $8",
    )
    .bind(&settings.name)
    .bind(name_key(&settings.name))
    .bind(&settings.data_location)
    .bind(settings.rpm_limit)
    .bind(settings.tpm_limit)
    .bind(now)
    .bind(id)
    .bind(revision)
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on("a tenant with this name"))?;
    if done.rows_affected() == 0 {
        return Err(stale(expected));
    }
    let entry = Entry::success(AuditAction::TenantUpdate, "tenant", id)
        .tenant(id)
        .details(json!({
            "before": { "name": before.name, "data_location": before.data_location,
                        "rpm_limit": before.rpm_limit, "tpm_limit": before.tpm_limit },
            "after": { "name": settings.name, "data_location": settings.data_location,
                       "rpm_limit": settings.rpm_limit, "tpm_limit": settings.tpm_limit },
        }));
    control::commit(svc, tx, actor, entry, control::Caches::KEYS).await?;
    get(svc, actor, id).await
}

/// Applies a partial update (absent fields keep their values), at the
/// revision the caller read when it names one.
pub async fn patch(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    patch: &TenantPatch,
    expected: Option<i64>,
) -> Result<Tenant> {
    actor.require_platform_admin()?;
    let current = get(svc, actor, id).await?;
    let settings = patch.apply(&current)?;
    apply_update(svc, actor, &current, settings, expected).await
}

/// A write that lost a race: 412 when the caller named the revision it
/// read, otherwise a conflict to retry after reading again.
fn stale(expected: Option<i64>) -> ServiceError {
    match expected {
        Some(_) => ServiceError::Stale("the tenant changed since this revision was read".into()),
        None => {
            ServiceError::Conflict("the tenant changed while this update ran; try again".into())
        }
    }
}

/// Suspending stops every key of the tenant at once; resuming restores them.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn set_status(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    status: TenantStatus,
) -> Result<Tenant> {
    actor.require_platform_admin()?;
    let before = get(svc, actor, id).await?;
    if before.status == status {
        return Ok(before);
    }
    let action = match status {
        TenantStatus::Active => AuditAction::TenantResume,
        TenantStatus::Suspended => AuditAction::TenantSuspend,
    };
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE tenants SET revision = revision + 1, status = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(action, "tenant", id).tenant(id);
    control::commit(svc, tx, actor, entry, control::Caches::KEYS).await?;
    get(svc, actor, id).await
}

/// Keeps the tenant's audit events for `days` (purged by a background
/// task, the purge itself recorded in the chain), or forever with `None`.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn set_audit_retention(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    days: Option<i64>,
) -> Result<Tenant> {
    actor.require_platform_admin()?;
    if days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(
            Invalid::new("audit_retention_days", "must be between 1 and 36500 days").into(),
        );
    }
    let before = get(svc, actor, id).await?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("UPDATE tenants SET revision = revision + 1, audit_retention_days = $1, updated_at = $2 WHERE id = $3")
        .bind(days)
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::TenantAuditRetention, "tenant", id)
        .tenant(id)
        .details(json!({ "before": before.audit_retention_days, "after": days }));
    control::commit(svc, tx, actor, entry, control::Caches::KEYS).await?;
    get(svc, actor, id).await
}

/// Deletion is irreversible, so the caller must type the tenant's name.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn delete(
    svc: &Services,
    actor: &Actor,
    id: &TenantId,
    confirm_name: &str,
) -> Result<()> {
    actor.require_platform_admin()?;
    let tenant = get(svc, actor, id).await?;
    if confirm_name.trim() != tenant.name {
        return Err(Invalid::new(
            "confirm_name",
            format!("type the tenant's name \"{}\" to confirm", tenant.name),
        )
        .into());
    }
    let mut tx = svc.db.pool.begin().await?;
    // Explicit deletes rather than relying on ON DELETE CASCADE alone, so the
    // outcome does not depend on a connection's foreign_keys setting.
    for table in [
        "sessions WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)",
        "users WHERE tenant_id = $1",
        "api_keys WHERE tenant_id = $1",
        "tenants WHERE id = $1",
    ] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let placement = TenantStores::unregister(&mut tx, id).await?;
    let entry = Entry::success(AuditAction::TenantDelete, "tenant", id)
        .tenant(id)
        .details(json!({ "name": tenant.name }));
    // Its rows leave every cache: aliases, custom models, policies, flags,
    // budgets and keys.
    control::commit(svc, tx, actor, entry, control::Caches::ALL).await?;
    if let Some(placement) = placement {
        erase::erase(svc, actor, &placement).await?;
    }
    Ok(())
}

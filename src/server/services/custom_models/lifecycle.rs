//! Moving a version through its lifecycle: every move is checked against
//! the domain's edges, written with its audit event in one transaction,
//! and followed by a cache refresh so the gateway routes by it at once.

use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::custom_model::{CustomModel, Status};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;

pub use super::retirement::{deprecate, retire, undeploy};
use super::status::{entry, set_status, tenant_of, write_status};
use super::{find, get, reconcile};
use crate::server::services::{control, Actor, Result, ServiceError, Services};

/// Loads a ready version on every endpoint of its pool; once at least one
/// endpoint has it, it is `deployed` and its name switches to it in the
/// same transaction. The version it replaces stays loaded (for rollback)
/// until it is deprecated or undeployed.
pub async fn deploy(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let tenant = super::super::tenants::get(svc, actor, tenant_id).await?;
    super::admission::require_enabled(svc, &tenant).await?;
    let m = to_deploy(svc, actor, tenant_id, model).await?;
    // Its files may have changed since validation: checked again, so an
    // engine never loads what no longer passes.
    if let Err(reason) = super::validate::recheck(svc, &m).await? {
        return Err(ServiceError::Conflict(format!(
            "{} no longer passes validation: {reason}",
            m.versioned_name()
        )));
    }
    set_status(
        svc,
        actor,
        &m,
        Status::Deploying,
        None,
        AuditAction::CustomModelDeploy,
    )
    .await?;
    let m = get(svc, actor, tenant_id, &m.id).await?;
    // A version just deployed counts as just used, on every replica.
    sqlx::query("UPDATE custom_models SET last_used_at = $1 WHERE id = $2")
        .bind(now_millis())
        .bind(&m.id)
        .execute(&svc.db.pool)
        .await?;
    let report = reconcile::load_now(svc, &m).await?;
    let tenant = tenant_of(&m)?;
    let mut tx = svc.db.pool.begin().await?;
    if report.loaded == 0 {
        let reason = report.errors.join("; ");
        write_status(&mut tx, &m, Status::Failed, Some(&reason)).await?;
        let e = entry(AuditAction::CustomModelDeploy, &m, &tenant)
            .status(crate::domain::audit::AuditStatus::Failure)
            .details(
                json!({ "name": m.name, "version": m.version, "after": Status::Failed,
                             "reason": reason }),
            );
        control::commit(svc, tx, actor, e, control::Caches::CATALOG).await?;
        return Err(ServiceError::Unavailable(format!(
            "no endpoint loaded {}: {reason}",
            m.versioned_name()
        )));
    }
    write_status(&mut tx, &m, Status::Deployed, None).await?;
    let before = switch_route(&mut tx, &m).await?;
    let e = entry(AuditAction::CustomModelDeploy, &m, &tenant).details(json!({
        "name": m.name, "version": m.version, "before": before, "after": m.version,
        "endpoints_loaded": report.loaded, "endpoints": report.endpoints, "errors": report.errors }));
    commit_read(svc, tx, actor, e, (tenant_id, &m.id)).await
}

/// `name:version` as given; a bare name means its newest ready version
/// (the one just registered), else whatever `find` gives, so the refusal
/// names the state it is in.
async fn to_deploy(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    let (name, version) = crate::domain::custom_model::requested(model.trim());
    if version.is_none() {
        let newest = super::list(svc, actor, tenant_id)
            .await?
            .into_iter()
            .filter(|m| m.name == name && m.status == Status::Ready)
            .max_by_key(|m| m.version);
        if let Some(m) = newest {
            return Ok(m);
        }
    }
    find(svc, actor, tenant_id, model).await
}

/// Points the name at `m`, remembering the version it pointed at.
async fn switch_route(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &CustomModel,
) -> Result<Option<i64>> {
    // Written first, so the transaction holds SQLite's write lock before it
    // reads (a read that later upgrades can fail at once as busy).
    sqlx::query("UPDATE custom_models SET updated_at = $1 WHERE id = $2")
        .bind(now_millis())
        .bind(&m.id)
        .execute(&mut **tx)
        .await?;
    let before: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM custom_model_routes WHERE tenant_id = $1 AND name = $2",
    )
    .bind(&m.tenant_id)
    .bind(&m.name)
    .fetch_optional(&mut **tx)
    .await?;
    let previous = before.filter(|v| *v != i64::from(m.version));
    sqlx::query(
        "INSERT INTO custom_model_routes (tenant_id, name, version, previous_version, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, name) DO UPDATE SET \
         version = excluded.version, previous_version = excluded.previous_version, \
         updated_at = excluded.updated_at",
    )
    .bind(&m.tenant_id)
    .bind(&m.name)
    .bind(i64::from(m.version))
    .bind(previous)
    .bind(now_millis())
    .execute(&mut **tx)
    .await?;
    Ok(before)
}

/// Switches the name back to the version it served before (`name`), or
/// to a given served version (`name:version`).
pub async fn rollback(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let (name, version) = crate::domain::custom_model::requested(model.trim());
    let route: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT version, previous_version FROM custom_model_routes WHERE tenant_id = $1 AND name = $2",
    )
    .bind(tenant_id.as_str())
    .bind(name)
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some((current, previous)) = route else {
        return Err(ServiceError::Conflict(format!("{name} is not deployed")));
    };
    let wanted = match (version, previous) {
        (Some(v), _) => i64::from(v),
        (None, Some(p)) => p,
        (None, None) => {
            return Err(ServiceError::Conflict(format!(
                "{name} has no earlier version to roll back to"
            )))
        }
    };
    let target = find(svc, actor, tenant_id, &format!("{name}:{wanted}")).await?;
    if !target.status.servable() {
        return Err(ServiceError::Conflict(format!(
            "{} is {}; deploy it again instead",
            target.versioned_name(),
            target.status
        )));
    }
    let mut tx = svc.db.pool.begin().await?;
    switch_route(&mut tx, &target).await?;
    let e = entry(AuditAction::CustomModelRollback, &target, tenant_id).details(json!({
        "name": target.name, "before": current, "after": target.version }));
    commit_read(svc, tx, actor, e, (tenant_id, &target.id)).await
}

/// Pins a version so it is never evicted from a full pool (or unpins it).
/// Platform admins only: a pinned adapter stays resident on every engine
/// of a shared pool, whoever else needs the room.
pub async fn pin(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
    pinned: bool,
) -> Result<CustomModel> {
    actor.require_platform_admin()?;
    let m = find(svc, actor, tenant_id, model).await?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("UPDATE custom_models SET pinned = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(pinned))
        .bind(now_millis())
        .bind(&m.id)
        .execute(&mut *tx)
        .await?;
    let e = entry(AuditAction::CustomModelPin, &m, tenant_id).details(json!({
        "name": m.name, "version": m.version, "before": m.pinned, "after": pinned }));
    commit_read(svc, tx, actor, e, (tenant_id, &m.id)).await
}

/// One action on one version (`name` or `name:version`): what the
/// portal's buttons, the CLI and the admin API all call.
pub async fn act(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
    action: crate::domain::custom_model::Action,
) -> Result<CustomModel> {
    use crate::domain::custom_model::Action;
    match action {
        Action::Validate => {
            let v = super::find(svc, actor, tenant_id, model).await?;
            super::validate(svc, actor, tenant_id, &v.id).await
        }
        Action::Deploy => deploy(svc, actor, tenant_id, model).await,
        Action::Undeploy => undeploy(svc, actor, tenant_id, model).await,
        Action::Rollback => rollback(svc, actor, tenant_id, model).await,
        Action::Deprecate => deprecate(svc, actor, tenant_id, model, None).await,
        Action::Retire => retire(svc, actor, tenant_id, model).await,
        Action::Pin => pin(svc, actor, tenant_id, model, true).await,
        Action::Unpin => pin(svc, actor, tenant_id, model, false).await,
    }
}

/// Commits a change with its audit entry, then reads the version back.
async fn commit_read(
    svc: &Services,
    tx: sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    e: crate::server::services::audit::Entry<'_>,
    (tenant_id, id): (&TenantId, &str),
) -> Result<CustomModel> {
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await?;
    get(svc, actor, tenant_id, id).await
}

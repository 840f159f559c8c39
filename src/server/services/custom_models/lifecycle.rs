//! Moving a version through its lifecycle: every move is checked against
//! the domain's edges, written with its audit event in one transaction,
//! and followed by a cache refresh so the gateway routes by it at once.

use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::custom_model::{CustomModel, Status, DEFAULT_GRACE_MS};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis};
use crate::domain::validation::Invalid;

use super::{find, get, reconcile};
use crate::server::services::audit::Entry;
use crate::server::services::{control, Actor, Result, ServiceError, Services};

pub(super) enum Outcome {
    Valid {
        rank: Option<u32>,
        alpha: Option<f64>,
        targets: Vec<String>,
        note: Option<String>,
    },
    Invalid(String),
}

fn entry<'a>(action: AuditAction, m: &'a CustomModel, tenant: &'a TenantId) -> Entry<'a> {
    Entry::success(action, "custom_model", &m.id).tenant(tenant)
}

fn tenant_of(m: &CustomModel) -> Result<TenantId> {
    TenantId::parse(&m.tenant_id)
        .map_err(|_| ServiceError::Internal(format!("custom model {} has a bad tenant", m.id)))
}

/// A plain status move, audited with before and after.
pub(super) async fn set_status(
    svc: &Services,
    actor: &Actor,
    m: &CustomModel,
    next: Status,
    reason: Option<&str>,
    action: AuditAction,
) -> Result<()> {
    m.status.step(next)?;
    let tenant = tenant_of(m)?;
    let mut tx = svc.db.pool.begin().await?;
    write_status(&mut tx, m, next, reason).await?;
    let details = json!({ "name": m.name, "version": m.version, "before": m.status,
                          "after": next, "reason": reason });
    control::commit(svc, tx, actor, entry(action, m, &tenant).details(details)).await
}

/// Moves only from the status the caller read, so two racing moves
/// cannot both pass the lifecycle check.
async fn write_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &CustomModel,
    next: Status,
    reason: Option<&str>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE custom_models SET status = $1, status_reason = $2, updated_at = $3 \
         WHERE id = $4 AND status = $5",
    )
    .bind(next.as_str())
    .bind(reason)
    .bind(now_millis())
    .bind(&m.id)
    .bind(m.status.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ServiceError::Conflict(format!(
            "{} changed meanwhile; look again",
            m.versioned_name()
        )));
    }
    Ok(())
}

pub(super) async fn record_validation(
    svc: &Services,
    actor: &Actor,
    m: &CustomModel,
    outcome: Outcome,
) -> Result<()> {
    let tenant = tenant_of(m)?;
    let details = super::validate::details(m, &outcome);
    let mut tx = svc.db.pool.begin().await?;
    match &outcome {
        Outcome::Valid {
            rank,
            alpha,
            targets,
            note,
        } => {
            write_status(&mut tx, m, m.status.step(Status::Ready)?, note.as_deref()).await?;
            sqlx::query(
                "UPDATE custom_models SET lora_rank = $1, lora_alpha = $2, target_modules = $3 \
                 WHERE id = $4",
            )
            .bind(rank.map(i64::from))
            .bind(alpha.map(|a| a.to_string()))
            .bind(serde_json::to_string(targets).unwrap_or_else(|_| "[]".into()))
            .bind(&m.id)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Invalid(reason) => {
            write_status(&mut tx, m, m.status.step(Status::Failed)?, Some(reason)).await?;
        }
    }
    let e = entry(AuditAction::CustomModelValidate, m, &tenant).details(details);
    control::commit(svc, tx, actor, e).await
}

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
    let m = find(svc, actor, tenant_id, model).await?;
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
        control::commit(svc, tx, actor, e).await?;
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
    control::commit(svc, tx, actor, e).await?;
    get(svc, actor, tenant_id, &m.id).await
}

/// Points the name at `m`, remembering the version it pointed at.
async fn switch_route(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &CustomModel,
) -> Result<Option<i64>> {
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
    control::commit(svc, tx, actor, e).await?;
    get(svc, actor, tenant_id, &target.id).await
}

/// Keeps a deployed version served for `grace_ms`, with a deprecation
/// header on every answer; the reconciler retires it after that.
pub async fn deprecate(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
    grace_ms: Option<Millis>,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let m = find(svc, actor, tenant_id, model).await?;
    let grace = grace_ms.unwrap_or(DEFAULT_GRACE_MS);
    if !(0..=366 * 24 * 3600 * 1000).contains(&grace) {
        return Err(Invalid::new("grace", "must be between 0 and 366 days").into());
    }
    m.status.step(Status::Deprecated)?;
    let until = now_millis() + grace;
    let mut tx = svc.db.pool.begin().await?;
    write_status(&mut tx, &m, Status::Deprecated, None).await?;
    sqlx::query("UPDATE custom_models SET deprecated_until = $1 WHERE id = $2")
        .bind(until)
        .bind(&m.id)
        .execute(&mut *tx)
        .await?;
    let e = entry(AuditAction::CustomModelDeprecate, &m, tenant_id).details(json!({
        "name": m.name, "version": m.version, "before": m.status, "after": Status::Deprecated,
        "until": crate::domain::time::rfc3339(until) }));
    control::commit(svc, tx, actor, e).await?;
    get(svc, actor, tenant_id, &m.id).await
}

/// Takes a version off the engines; it can be deployed again. If its name
/// pointed at it, the name falls back to the version before, when that
/// one is still served, and is otherwise no longer served.
pub async fn undeploy(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let m = find(svc, actor, tenant_id, model).await?;
    take_off(
        svc,
        actor,
        &m,
        Status::Ready,
        AuditAction::CustomModelUndeploy,
    )
    .await?;
    reconcile::unload_now(svc, &m).await;
    get(svc, actor, tenant_id, &m.id).await
}

/// Ends a version for good. A deployed version is deprecated first, so
/// clients get warning before it goes.
pub async fn retire(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let m = find(svc, actor, tenant_id, model).await?;
    take_off(
        svc,
        actor,
        &m,
        Status::Retired,
        AuditAction::CustomModelRetire,
    )
    .await?;
    reconcile::unload_now(svc, &m).await;
    get(svc, actor, tenant_id, &m.id).await
}

async fn take_off(
    svc: &Services,
    actor: &Actor,
    m: &CustomModel,
    next: Status,
    action: AuditAction,
) -> Result<()> {
    m.status.step(next)?;
    let tenant = tenant_of(m)?;
    let mut tx = svc.db.pool.begin().await?;
    write_status(&mut tx, m, next, None).await?;
    let fallback = if m.active {
        unroute(&mut tx, m).await?
    } else {
        None
    };
    let e = entry(action, m, &tenant).details(json!({ "name": m.name, "version": m.version,
        "before": m.status, "after": next, "name_now_serves": fallback }));
    control::commit(svc, tx, actor, e).await
}

/// The name's route after its active version leaves: the previous version
/// if it is still served, else none.
async fn unroute(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &CustomModel,
) -> Result<Option<i64>> {
    let previous: Option<i64> = sqlx::query_scalar(
        "SELECT r.previous_version FROM custom_model_routes r JOIN custom_models c \
         ON c.tenant_id = r.tenant_id AND c.name = r.name AND c.version = r.previous_version \
         WHERE r.tenant_id = $1 AND r.name = $2 AND c.status IN ('deployed', 'deprecated')",
    )
    .bind(&m.tenant_id)
    .bind(&m.name)
    .fetch_optional(&mut **tx)
    .await?;
    match previous {
        Some(v) => {
            sqlx::query(
                "UPDATE custom_model_routes SET version = $1, previous_version = NULL, \
                 updated_at = $2 WHERE tenant_id = $3 AND name = $4",
            )
            .bind(v)
            .bind(now_millis())
            .bind(&m.tenant_id)
            .bind(&m.name)
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM custom_model_routes WHERE tenant_id = $1 AND name = $2")
                .bind(&m.tenant_id)
                .bind(&m.name)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(previous)
}

/// Pins a version so it is never evicted from a full pool (or unpins it).
pub async fn pin(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
    pinned: bool,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
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
    control::commit(svc, tx, actor, e).await?;
    get(svc, actor, tenant_id, &m.id).await
}

/// Retires deprecated versions whose grace has run out (the reconciler
/// calls this; the server is the actor).
pub(super) async fn retire_lapsed(svc: &Services, versions: &[CustomModel]) -> Result<usize> {
    let now = now_millis();
    let system = Actor::system("reconciler");
    let mut n = 0;
    for m in versions
        .iter()
        .filter(|m| m.status == Status::Deprecated && m.deprecated_until.is_some_and(|u| u <= now))
    {
        take_off(
            svc,
            &system,
            m,
            Status::Retired,
            AuditAction::CustomModelRetire,
        )
        .await?;
        n += 1;
    }
    Ok(n)
}

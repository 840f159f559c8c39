//! Taking versions off the engines: deprecation with a grace period,
//! undeploying (it may come back), retiring for good, and the name's
//! fallback when its active version leaves.

use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::custom_model::{CustomModel, Status, DEFAULT_GRACE_MS};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis};
use crate::domain::validation::Invalid;

use super::status::{entry, tenant_of, write_status};
use super::{find, get, reconcile};
use crate::server::services::{control, Actor, Result, Services};

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
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await?;
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
    let action = AuditAction::CustomModelUndeploy;
    leave(svc, actor, tenant_id, model, Status::Ready, action).await
}

/// Ends a version for good. A deployed version is deprecated first, so
/// clients get warning before it goes.
pub async fn retire(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
) -> Result<CustomModel> {
    let action = AuditAction::CustomModelRetire;
    leave(svc, actor, tenant_id, model, Status::Retired, action).await
}

/// A person's undeploy or retire: the move, then the engines unload it.
async fn leave(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    model: &str,
    next: Status,
    action: AuditAction,
) -> Result<CustomModel> {
    actor.require(tenant_id, Access::Manage)?;
    let m = find(svc, actor, tenant_id, model).await?;
    take_off(svc, actor, &m, next, action).await?;
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
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await
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

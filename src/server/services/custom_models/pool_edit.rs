//! Changing a pool after it is made: another engine joins (the reconciler
//! loads what the pool should hold onto it within a pass), or the pool is
//! removed once nothing is deployed on it. Both audited.

use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::catalog;

use super::pools::{self, attach, engine_provider, with_v1, EngineSpec, Pool};
use crate::server::services::audit::Entry;
use crate::server::services::{control, Actor, Result, ServiceError, Services};

async fn named(svc: &Services, name: &str) -> Result<Pool> {
    pools::all(svc)
        .await?
        .into_iter()
        .find(|p| p.name == name.trim())
        .ok_or(ServiceError::NotFound("pool"))
}

/// Adds an engine to a pool: a provider of its own, the base model served
/// there, and the pool's adapters loaded onto it by the next pass.
pub async fn add_endpoint(
    svc: &Services,
    actor: &Actor,
    pool: &str,
    url: &str,
    timeout_ms: i64,
) -> Result<Pool> {
    actor.require_platform_admin()?;
    let p = named(svc, pool).await?;
    let url = with_v1(catalog::base_url(url, &svc.config.allow_private_upstreams)?);
    if p.endpoints.iter().any(|e| e.base_url == url) {
        return Err(ServiceError::Conflict(format!(
            "{url} is already in {}",
            p.name
        )));
    }
    if p.endpoints.len() >= 64 {
        return Err(ServiceError::Conflict(
            "a pool has at most 64 endpoints".into(),
        ));
    }
    let n = p.endpoints.len() + 1;
    let engine = EngineSpec {
        pool: &p.name,
        n,
        url: &url,
        timeout_ms,
        region: &p.region,
    };
    let provider = engine_provider(svc, actor, engine).await?;
    let model_id: String = sqlx::query_scalar("SELECT model_id FROM serving_pools WHERE id = $1")
        .bind(&p.id)
        .fetch_one(&svc.db.pool)
        .await?;
    let mut tx = svc.db.pool.begin().await?;
    attach(&mut tx, &p.id, &model_id, &p.base_model, &provider, &url).await?;
    let e = Entry::success(AuditAction::PoolAddEndpoint, "pool", &p.id)
        .details(json!({ "name": p.name, "endpoint": url, "provider": provider }));
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await?;
    svc.pools.wake();
    named(svc, &p.name).await
}

/// Removes a pool once no version of its base model is on the engines:
/// Atrium stops managing their adapters. The engines stay providers of the
/// base model, so its callers are not cut off.
pub async fn remove(svc: &Services, actor: &Actor, pool: &str) -> Result<()> {
    actor.require_platform_admin()?;
    let p = named(svc, pool).await?;
    let mut tx = svc.db.pool.begin().await?;
    // The delete first: it takes SQLite's write lock before the check
    // reads, so a deploy cannot slip in between.
    sqlx::query("DELETE FROM pool_endpoints WHERE pool_id = $1")
        .bind(&p.id)
        .execute(&mut *tx)
        .await?;
    let deployed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM custom_models WHERE base_model = $1 \
         AND status IN ('deploying', 'deployed', 'deprecated')",
    )
    .bind(&p.base_model)
    .fetch_one(&mut *tx)
    .await?;
    if deployed > 0 {
        tx.rollback().await?;
        return Err(ServiceError::Conflict(format!(
            "{deployed} custom model version(s) of {} are deployed; undeploy or retire them first",
            p.base_model
        )));
    }
    sqlx::query("DELETE FROM serving_pools WHERE id = $1")
        .bind(&p.id)
        .execute(&mut *tx)
        .await?;
    let e = Entry::success(AuditAction::PoolRemove, "pool", &p.id).details(
        json!({ "name": p.name, "base_model": p.base_model, "endpoints": p.endpoints.len() }),
    );
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await
}

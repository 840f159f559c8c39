//! Changing and removing what the catalog holds: a provider's address,
//! region, timeout or credential; a model or provider no longer wanted; a
//! tenant's alias. Removal refuses while something still routes through
//! what it would remove, so no tenant loses a route as a side effect.

use serde_json::json;
use sqlx::FromRow;

use super::super::audit::Entry;
use super::super::{control, tenants, Actor, Result, ServiceError, Services};
use super::{credential_columns, credential_label, load, provider_region};
use crate::domain::audit::AuditAction;
use crate::domain::catalog::{self, ModelAlias, Provider, ProviderPatch};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::validation::Invalid;

async fn provider(svc: &Services, name: &str) -> Result<Provider> {
    load(svc)
        .await?
        .providers
        .get(name.trim())
        .map(|p| p.provider.clone())
        .ok_or(ServiceError::NotFound("provider"))
}

/// A pool's endpoints are providers its own commands keep in step with
/// the pool; changed here they would drift from it.
async fn refuse_pool_endpoint(svc: &Services, provider_id: &str) -> Result<()> {
    let pool: Option<String> = sqlx::query_scalar(
        "SELECT p.name FROM pool_endpoints e JOIN serving_pools p ON p.id = e.pool_id \
         WHERE e.provider_id = $1",
    )
    .bind(provider_id)
    .fetch_optional(&svc.db.pool)
    .await?;
    match pool {
        Some(pool) => Err(ServiceError::Conflict(format!(
            "this provider is an endpoint of serving pool {pool}; change it with the pool"
        ))),
        None => Ok(()),
    }
}

/// Changes the fields `patch` names; the name and kind stay, since
/// deployments and usage name the provider. Audited before and after
/// (the credential by its label only).
#[tracing::instrument(level = "debug", skip_all, fields(provider = %name))]
pub async fn update_provider(
    svc: &Services,
    actor: &Actor,
    name: &str,
    patch: ProviderPatch,
) -> Result<Provider> {
    actor.require_platform_admin()?;
    let before = provider(svc, name).await?;
    if patch.is_empty() {
        return Err(Invalid::new("patch", "names nothing to change").into());
    }
    refuse_pool_endpoint(svc, &before.id).await?;
    let moves_host =
        (patch.base_url.as_deref()).is_some_and(|u| origin(u) != origin(&before.base_url));
    if moves_host && before.credential == "stored" && patch.credential.is_none() {
        return Err(Invalid::new(
            "credential",
            "a stored key is not sent to another host: give the credential again with the new base_url",
        )
        .into());
    }
    let allowed = &svc.config.allow_private_upstreams;
    let base_url = (patch.base_url.as_deref())
        .map(|u| catalog::base_url(u, allowed))
        .transpose()?;
    let region = patch.region.as_deref().map(provider_region).transpose()?;
    let timeout_ms = patch.timeout_ms.map(catalog::timeout_ms).transpose()?;
    let credential = (patch.credential.as_ref())
        .map(|c| credential_columns(svc, c))
        .transpose()?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE providers SET base_url = COALESCE($1, base_url), region = COALESCE($2, region), \
         timeout_ms = COALESCE($3, timeout_ms) WHERE id = $4",
    )
    .bind(&base_url)
    .bind(&region)
    .bind(timeout_ms)
    .bind(&before.id)
    .execute(&mut *tx)
    .await?;
    let mut after_credential = before.credential.clone();
    if let Some((env, sealed)) = &credential {
        sqlx::query("UPDATE providers SET api_key_env = $1, api_key_enc = $2 WHERE id = $3")
            .bind(env)
            .bind(sealed)
            .bind(&before.id)
            .execute(&mut *tx)
            .await?;
        after_credential = credential_label(env.as_deref(), sealed.is_some());
    }
    let entry =
        Entry::success(AuditAction::ProviderUpdate, "provider", &before.id).details(json!({
            "name": before.name,
            "before": { "base_url": before.base_url, "region": before.region,
                        "timeout_ms": before.timeout_ms, "credential": before.credential },
            "after": { "base_url": base_url.unwrap_or(before.base_url.clone()),
                       "region": region.unwrap_or(before.region.clone()),
                       "timeout_ms": timeout_ms.unwrap_or(before.timeout_ms),
                       "credential": after_credential },
        }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    provider(svc, name).await
}

/// `scheme://host:port` of a base URL, compared before a stored key may follow it.
fn origin(url: &str) -> String {
    let url = url.trim();
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    url[..end].to_ascii_lowercase()
}

/// Removes a provider no model is deployed on any more.
#[tracing::instrument(level = "debug", skip_all, fields(provider = %name))]
pub async fn remove_provider(svc: &Services, actor: &Actor, name: &str) -> Result<Provider> {
    actor.require_platform_admin()?;
    let found = provider(svc, name).await?;
    refuse_pool_endpoint(svc, &found.id).await?;
    let mut tx = svc.db.pool.begin().await?;
    lock(&mut tx, "providers", &found.id).await?;
    let models: Vec<String> = sqlx::query_scalar(
        "SELECT m.name FROM deployments d JOIN models m ON m.id = d.model_id \
         WHERE d.provider_id = $1 ORDER BY m.name",
    )
    .bind(&found.id)
    .fetch_all(&mut *tx)
    .await?;
    if !models.is_empty() {
        return Err(ServiceError::Conflict(format!(
            "models are deployed on this provider: {}; move or remove them first",
            models.join(", ")
        )));
    }
    sqlx::query("DELETE FROM providers WHERE id = $1")
        .bind(&found.id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::ProviderRemove, "provider", &found.id)
        .details(json!({ "name": found.name, "kind": found.kind, "base_url": found.base_url }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    Ok(found)
}

/// Removes a model, its deployments and its price versions. Usage already
/// recorded keeps its cost. Refused while a tenant's alias or a serving
/// pool still points at it: those tenants would lose their route.
#[tracing::instrument(level = "debug", skip_all, fields(model = %name))]
pub async fn remove_model(svc: &Services, actor: &Actor, name: &str) -> Result<()> {
    actor.require_platform_admin()?;
    let model = (load(svc).await?.models.get(name.trim()).cloned())
        .ok_or(ServiceError::NotFound("model"))?;
    let mut tx = svc.db.pool.begin().await?;
    lock(&mut tx, "models", &model.id).await?;
    let aliases: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM model_aliases WHERE model_id = $1")
        .bind(&model.id)
        .fetch_one(&mut *tx)
        .await?;
    let pools: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM serving_pools WHERE model_id = $1")
        .bind(&model.id)
        .fetch_one(&mut *tx)
        .await?;
    if aliases > 0 || pools > 0 {
        return Err(ServiceError::Conflict(format!(
            "{aliases} tenant aliases and {pools} serving pools point at this model; \
             repoint or remove them first"
        )));
    }
    sqlx::query("DELETE FROM models WHERE id = $1")
        .bind(&model.id)
        .execute(&mut *tx)
        .await?;
    let providers: Vec<&str> = model
        .deployments
        .iter()
        .map(|d| d.provider.name.as_str())
        .collect();
    let entry = Entry::success(AuditAction::ModelRemove, "model", &model.id).details(json!({
        "name": model.name, "price": model.price, "providers": providers,
    }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await
}

/// Takes the row's write lock before the checks that guard its removal:
/// an alias, deployment or pool that references it meanwhile waits for
/// this transaction (and then fails its foreign key) instead of being
/// swept away by the cascade. A no-op update locks on both databases.
async fn lock(tx: &mut sqlx::Transaction<'_, sqlx::Any>, table: &str, id: &str) -> Result<()> {
    sqlx::query(&format!("UPDATE {table} SET name = name WHERE id = $1"))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct AliasRow {
    alias: String,
    model: String,
    created_at: i64,
}

/// The tenant's aliases, by name.
pub async fn aliases(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<Vec<ModelAlias>> {
    actor.require(tenant_id, Access::Read)?;
    let rows: Vec<AliasRow> = sqlx::query_as(
        "SELECT a.alias, m.name AS model, a.created_at FROM model_aliases a \
         JOIN models m ON m.id = a.model_id WHERE a.tenant_id = $1 ORDER BY a.alias",
    )
    .bind(tenant_id)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ModelAlias {
            alias: r.alias,
            model: r.model,
            created_at: r.created_at,
        })
        .collect())
}

/// Removes one of the tenant's aliases; requests naming it then resolve
/// as a catalog name.
pub async fn remove_alias(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    alias: &str,
) -> Result<()> {
    actor.require(tenant_id, Access::Manage)?;
    tenants::get(svc, actor, tenant_id).await?;
    let mut tx = svc.db.pool.begin().await?;
    let gone = sqlx::query("DELETE FROM model_aliases WHERE tenant_id = $1 AND alias = $2")
        .bind(tenant_id)
        .bind(alias.trim())
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ServiceError::NotFound("alias"));
    }
    let entry = Entry::success(AuditAction::ModelAliasRemove, "model_alias", alias.trim())
        .tenant(tenant_id)
        .details(json!({ "alias": alias.trim() }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await
}

//! Providers, models (the price table), deployments and tenant aliases: the
//! admin side. `snapshot` is what the gateway routes from.

mod edit;
pub mod prices;
mod snapshot;

pub use crate::domain::catalog::{Credential, NewModel, NewProvider};
pub use edit::{aliases, remove_alias, remove_model, remove_provider, update_provider};

pub use snapshot::{refresh, snapshot, Catalog, CatalogCache, ProviderEntry};

use crate::domain::tenant::TenantId;
use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::catalog::{self, Model, Provider};
use crate::domain::completion::ServerTools;
use crate::domain::price::PriceVersion;
use crate::domain::role::Access;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

use super::audit::Entry;
use super::{control, new_id, tenants, Actor, Result, ServiceError, Services};
pub(crate) use snapshot::load;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_provider(svc: &Services, actor: &Actor, new: NewProvider) -> Result<Provider> {
    actor.require_platform_admin()?;
    let name = catalog::provider_name(&new.name)?;
    let base_url = catalog::base_url(&new.base_url, &svc.config.allow_private_upstreams)?;
    let region = provider_region(&new.region)?;
    let timeout_ms = catalog::timeout_ms(new.timeout_ms)?;
    let (env, sealed) = credential_columns(svc, &new.credential)?;
    let id = new_id();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO providers (id, name, kind, base_url, region, timeout_ms, api_key_env, \
         api_key_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&name)
    .bind(new.kind.as_str())
    .bind(&base_url)
    .bind(&region)
    .bind(timeout_ms)
    .bind(env.as_deref())
    .bind(sealed.as_deref())
    .bind(now_millis())
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on("a provider with this name"))?;
    let entry = Entry::success(AuditAction::ProviderCreate, "provider", &id).details(json!({
        "name": name, "kind": new.kind, "base_url": base_url, "region": region,
        "credential": credential_label(env.as_deref(), sealed.is_some()),
    }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    load(svc)
        .await?
        .providers
        .get(&name)
        .map(|p| p.provider.clone())
        .ok_or(ServiceError::NotFound("provider"))
}

/// A provider's region: empty means it serves every data location.
pub(super) fn provider_region(raw: &str) -> Result<String> {
    if raw.trim().is_empty() {
        return Ok(catalog::ANY_REGION.to_string());
    }
    Ok(crate::domain::tenant::region(raw)?)
}

/// The columns a credential is stored in: the variable's name, or the
/// secret sealed with the server's key.
pub(super) fn credential_columns(
    svc: &Services,
    credential: &Credential,
) -> Result<(Option<String>, Option<String>)> {
    Ok(match credential {
        Credential::None => (None, None),
        Credential::Env(var) => (Some(catalog::api_key_env(var)?), None),
        Credential::Stored(secret) => {
            let secret = secret.trim();
            if secret.is_empty() || secret.len() > 4096 {
                return Err(
                    Invalid::new("credential", "a stored key is 1 to 4096 characters").into(),
                );
            }
            (None, Some(svc.secrets.seal(secret)?))
        }
    })
}

pub(super) fn credential_label(env: Option<&str>, stored: bool) -> String {
    match (env, stored) {
        (Some(var), _) => format!("env:{var}"),
        (None, true) => "stored".into(),
        (None, false) => "none".into(),
    }
}

/// Adds a model to the catalog, or another deployment (provider) to an
/// existing model of the same name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_model(svc: &Services, actor: &Actor, new: NewModel) -> Result<Model> {
    actor.require_platform_admin()?;
    new.price.check()?;
    let name = catalog::model_name(&new.name)?;
    let upstream = match new.upstream_model.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => catalog::model_name(u)?,
        _ => name.clone(),
    };
    let provider_id: Option<String> =
        sqlx::query_scalar("SELECT id FROM providers WHERE name = $1")
            .bind(new.provider.trim())
            .fetch_optional(&svc.db.pool)
            .await?;
    let provider_id = provider_id.ok_or(ServiceError::NotFound("provider"))?;
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
        .bind(&name)
        .fetch_optional(&svc.db.pool)
        .await?;
    let mut tx = svc.db.pool.begin().await?;
    let (model_id, effective_from) = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE models SET input_micros_per_mtok = $1, output_micros_per_mtok = $2, \
                 cache_read_micros_per_mtok = $3, cache_write_micros_per_mtok = $4 WHERE id = $5",
            )
            .bind(new.price.input_per_mtok)
            .bind(new.price.output_per_mtok)
            .bind(new.price.cache_read_per_mtok)
            .bind(new.price.cache_write_per_mtok)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            // A new price for a model in use applies from now on.
            (id, now_millis())
        }
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO models (id, name, input_micros_per_mtok, output_micros_per_mtok, \
                 cache_read_micros_per_mtok, cache_write_micros_per_mtok, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(&name)
            .bind(new.price.input_per_mtok)
            .bind(new.price.output_per_mtok)
            .bind(new.price.cache_read_per_mtok)
            .bind(new.price.cache_write_per_mtok)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
            (id, 0)
        }
    };
    let version = PriceVersion {
        effective_from,
        price: new.price,
    };
    prices::write(&mut tx, &model_id, &version).await?;
    sqlx::query(
        "INSERT INTO deployments (model_id, provider_id, upstream_model, priority) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (model_id, provider_id) \
         DO UPDATE SET upstream_model = excluded.upstream_model, priority = excluded.priority",
    )
    .bind(&model_id)
    .bind(&provider_id)
    .bind(&upstream)
    .bind(new.priority)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::ModelUpsert, "model", &model_id).details(json!({
        "name": name, "provider": new.provider.trim(), "upstream_model": upstream,
        "price": new.price,
    }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    load(svc)
        .await?
        .models
        .get(&name)
        .map(|m| (**m).clone())
        .ok_or(ServiceError::NotFound("model"))
}

/// Aliases one tenant may hold: every replica's catalog keeps them all.
pub const MAX_ALIASES: i64 = 1000;

/// Points a tenant's alias (e.g. `support-bot`) at a catalog model.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn set_alias(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    alias: &str,
    model: &str,
) -> Result<()> {
    actor.require(tenant_id, Access::Manage)?;
    tenants::get(svc, actor, tenant_id).await?;
    let alias = catalog::model_name(alias)?;
    let model_id: Option<String> = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
        .bind(model.trim())
        .fetch_optional(&svc.db.pool)
        .await?;
    let model_id = model_id.ok_or(ServiceError::NotFound("model"))?;
    let mut tx = svc.db.pool.begin().await?;
    control::lock_tenant(&mut tx, tenant_id).await?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM model_aliases WHERE tenant_id = $1 AND alias <> $2",
    )
    .bind(tenant_id)
    .bind(&alias)
    .fetch_one(&mut *tx)
    .await?;
    if held >= MAX_ALIASES {
        return Err(ServiceError::Conflict(format!(
            "at most {MAX_ALIASES} aliases per tenant; remove some first"
        )));
    }
    sqlx::query(
        "INSERT INTO model_aliases (tenant_id, alias, model_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, alias) DO UPDATE SET model_id = excluded.model_id",
    )
    .bind(tenant_id)
    .bind(&alias)
    .bind(&model_id)
    .bind(now_millis())
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::ModelAliasSet, "model_alias", &alias)
        .tenant(tenant_id)
        .details(json!({ "alias": alias, "model": model.trim() }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    Ok(())
}

/// Allows (or, with `max_uses` 0, refuses) a model's server-side tools;
/// platform admins only, since each use bills the platform's provider
/// account. Audited with the setting it replaces.
#[tracing::instrument(level = "debug", skip_all, fields(model = %model))]
pub async fn set_server_tools(
    svc: &Services,
    actor: &Actor,
    model: &str,
    tools: ServerTools,
) -> Result<ServerTools> {
    actor.require_platform_admin()?;
    let found = load(svc)
        .await?
        .models
        .get(model.trim())
        .cloned()
        .ok_or(ServiceError::NotFound("model"))?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE models SET server_tool_max_uses = $1, server_tool_tokens_per_use = $2 WHERE id = $3",
    )
    .bind(tools.max_uses)
    .bind(tools.tokens_per_use)
    .bind(&found.id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::ModelServerTools, "model", &found.id)
        .details(json!({ "model": found.name, "before": found.server_tools, "after": tools }));
    control::commit(svc, tx, actor, entry, control::Caches::CATALOG).await?;
    Ok(tools)
}

/// For the portal and CLI: providers and models, without secrets.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(svc: &Services, actor: &Actor) -> Result<(Vec<Provider>, Vec<Model>)> {
    actor.require_platform_read()?;
    let c = load(svc).await?;
    let mut providers: Vec<Provider> = c.providers.values().map(|p| p.provider.clone()).collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut models: Vec<Model> = c.models.values().map(|m| (**m).clone()).collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((providers, models))
}

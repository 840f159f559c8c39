//! Providers, models (the price table), deployments and tenant aliases, and
//! the in-memory snapshot the gateway routes from without touching the database.

use crate::domain::audit::AuditAction;
use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use serde_json::json;
use sqlx::FromRow;

use crate::domain::catalog::{self, Deployment, Model, Provider, ProviderKind};
use crate::domain::pricing::Price;
use crate::domain::role::Access;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

use super::audit::Entry;
use super::{control, new_id, tenants, Actor, Result, ServiceError, Services};

/// Where a provider's API key comes from.
#[derive(Debug, Clone)]
pub enum Credential {
    None,
    /// Read from this environment variable at call time.
    Env(String),
    /// Sealed in the database; the plaintext is given here once.
    Stored(String),
}

pub struct NewProvider {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub region: String,
    pub timeout_ms: i64,
    pub credential: Credential,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_provider(svc: &Services, actor: &Actor, new: NewProvider) -> Result<Provider> {
    actor.require_platform_admin()?;
    let name = catalog::provider_name(&new.name)?;
    let base_url = catalog::base_url(&new.base_url)?;
    let region = if new.region.trim().is_empty() {
        catalog::ANY_REGION.to_string()
    } else {
        crate::domain::tenant::region(&new.region)?
    };
    let timeout_ms = catalog::timeout_ms(new.timeout_ms)?;
    let (env, sealed) = match &new.credential {
        Credential::None => (None, None),
        Credential::Env(var) if var.trim().is_empty() => {
            return Err(Invalid::new("api_key_env", "must name an environment variable").into())
        }
        Credential::Env(var) => (Some(var.trim().to_string()), None),
        Credential::Stored(secret) => {
            let sealed = svc.secrets.seal(secret.trim())?;
            (None, Some(sealed))
        }
    };
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
    control::commit(svc, tx, actor, entry).await?;
    load(svc)
        .await?
        .providers
        .get(&name)
        .map(|p| p.provider.clone())
        .ok_or(ServiceError::NotFound("provider"))
}

fn credential_label(env: Option<&str>, stored: bool) -> String {
    match (env, stored) {
        (Some(var), _) => format!("env:{var}"),
        (None, true) => "stored".into(),
        (None, false) => "none".into(),
    }
}

pub struct NewModel {
    pub name: String,
    pub provider: String,
    pub upstream_model: Option<String>,
    pub price: Price,
    pub priority: i64,
}

/// Adds a model to the catalog, or another deployment (provider) to an
/// existing model of the same name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_model(svc: &Services, actor: &Actor, new: NewModel) -> Result<Model> {
    actor.require_platform_admin()?;
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
    let model_id = match existing {
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
            id
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
            id
        }
    };
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
    control::commit(svc, tx, actor, entry).await?;
    load(svc)
        .await?
        .models
        .get(&name)
        .map(|m| (**m).clone())
        .ok_or(ServiceError::NotFound("model"))
}

/// Points a tenant's alias (e.g. `support-bot`) at a catalog model.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn set_alias(
    svc: &Services,
    actor: &Actor,
    tenant_id: &str,
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
    control::commit(svc, tx, actor, entry).await?;
    Ok(())
}

/// A provider with its resolved secret, held only in memory.
pub struct ProviderEntry {
    pub provider: Provider,
    pub api_key: Option<String>,
    /// Parsed once here rather than on every call.
    pub endpoint: Option<reqwest::Url>,
}

impl std::fmt::Debug for ProviderEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEntry")
            .field("provider", &self.provider.name)
            .finish_non_exhaustive()
    }
}

/// Everything routing needs, loaded in one go and replaced on change.
#[derive(Default, Debug)]
pub struct Catalog {
    pub providers: HashMap<String, Arc<ProviderEntry>>,
    pub models: HashMap<String, Arc<Model>>,
    aliases: HashMap<(String, String), String>,
}

impl Catalog {
    /// The one routing lookup: a tenant alias first, then the catalog name.
    pub fn resolve(&self, tenant_id: &str, requested: &str) -> Option<Arc<Model>> {
        let name = self
            .aliases
            .get(&(tenant_id.to_string(), requested.to_string()))
            .map_or(requested, String::as_str);
        self.models.get(name).cloned()
    }

    /// Models this tenant may call: its aliases and every model with a
    /// deployment in its data location.
    pub fn visible_to(&self, tenant_id: &str, data_location: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .models
            .values()
            .filter(|m| {
                m.deployments
                    .iter()
                    .any(|d| d.provider.serves_region(data_location))
            })
            .map(|m| m.name.clone())
            .chain(
                self.aliases
                    .keys()
                    .filter(|(t, _)| t == tenant_id)
                    .map(|(_, a)| a.clone()),
            )
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The catalog the gateway routes from: rebuilt by `refresh` (at start,
/// after a change here, and when another process changed the control
/// plane) and swapped in whole, so requests never wait for a reload.
#[derive(Default)]
pub struct CatalogCache {
    current: ArcSwap<Catalog>,
}

/// The current catalog. Never touches the database.
pub fn snapshot(svc: &Services) -> Arc<Catalog> {
    svc.catalog.current.load_full()
}

/// Loads the catalog from the database and swaps it in.
#[tracing::instrument(skip_all)]
pub async fn refresh(svc: &Services) -> Result<()> {
    let loaded = load(svc).await?;
    svc.catalog.current.store(Arc::new(loaded));
    Ok(())
}

#[derive(FromRow)]
struct ProviderRow {
    id: String,
    name: String,
    kind: String,
    base_url: String,
    region: String,
    timeout_ms: i64,
    api_key_env: Option<String>,
    api_key_enc: Option<String>,
}

#[derive(FromRow)]
struct ModelRow {
    id: String,
    name: String,
    input_micros_per_mtok: i64,
    output_micros_per_mtok: i64,
    cache_read_micros_per_mtok: i64,
    cache_write_micros_per_mtok: i64,
    created_at: i64,
}

async fn load(svc: &Services) -> Result<Catalog> {
    let rows: Vec<ProviderRow> = sqlx::query_as(
        "SELECT id, name, kind, base_url, region, timeout_ms, api_key_env, api_key_enc FROM providers",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut by_id = HashMap::new();
    let mut providers = HashMap::new();
    for r in rows {
        let api_key = match (&r.api_key_env, &r.api_key_enc) {
            (Some(var), _) => std::env::var(var).ok(),
            (None, Some(sealed)) => Some(
                svc.secrets
                    .open(sealed)
                    .map_err(|e| ServiceError::Internal(format!("provider {}: {e}", r.name)))?,
            ),
            (None, None) => None,
        };
        let provider = Provider {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.parse()?,
            base_url: r.base_url,
            region: r.region,
            timeout_ms: r.timeout_ms,
            credential: credential_label(r.api_key_env.as_deref(), r.api_key_enc.is_some()),
        };
        let endpoint = reqwest::Url::parse(&provider.endpoint()).ok();
        let entry = Arc::new(ProviderEntry {
            provider,
            api_key,
            endpoint,
        });
        by_id.insert(r.id, entry.clone());
        providers.insert(r.name, entry);
    }
    let deployments: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT model_id, provider_id, upstream_model, priority FROM deployments")
            .fetch_all(&svc.db.pool)
            .await?;
    let rows: Vec<ModelRow> = sqlx::query_as(
        "SELECT id, name, input_micros_per_mtok, output_micros_per_mtok, \
         cache_read_micros_per_mtok, cache_write_micros_per_mtok, created_at FROM models",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let mut names_by_id = HashMap::new();
    let mut models = HashMap::new();
    for r in rows {
        let mut deps: Vec<Deployment> = deployments
            .iter()
            .filter(|(m, ..)| *m == r.id)
            .filter_map(|(_, p, upstream, priority)| {
                by_id.get(p).map(|e| Deployment {
                    provider: e.provider.clone(),
                    upstream_model: upstream.clone(),
                    priority: *priority,
                })
            })
            .collect();
        deps.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(a.provider.name.cmp(&b.provider.name))
        });
        let model = Model {
            id: r.id.clone(),
            name: r.name.clone(),
            price: Price {
                input_per_mtok: r.input_micros_per_mtok,
                output_per_mtok: r.output_micros_per_mtok,
                cache_read_per_mtok: r.cache_read_micros_per_mtok,
                cache_write_per_mtok: r.cache_write_micros_per_mtok,
            },
            deployments: deps,
            created_at: r.created_at,
        };
        names_by_id.insert(r.id, r.name.clone());
        models.insert(r.name, Arc::new(model));
    }
    let alias_rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT tenant_id, alias, model_id FROM model_aliases")
            .fetch_all(&svc.db.pool)
            .await?;
    let aliases = alias_rows
        .into_iter()
        .filter_map(|(t, a, m)| names_by_id.get(&m).map(|name| ((t, a), name.clone())))
        .collect();
    Ok(Catalog {
        providers,
        models,
        aliases,
    })
}

/// For the portal and CLI: providers and models, without secrets.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(svc: &Services, actor: &Actor) -> Result<(Vec<Provider>, Vec<Model>)> {
    actor.require_platform_admin()?;
    let c = load(svc).await?;
    let mut providers: Vec<Provider> = c.providers.values().map(|p| p.provider.clone()).collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut models: Vec<Model> = c.models.values().map(|m| (**m).clone()).collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((providers, models))
}

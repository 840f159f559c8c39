//! Serving pools: vLLM-compatible endpoints for one base model. Adding a
//! pool makes each endpoint a provider and puts the base model in the
//! catalog, so tenants can call it directly and the gateway's upstream
//! path (retries, fallbacks, translation) serves adapters as well.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;

use crate::domain::audit::AuditAction;
use crate::domain::catalog::{self, ProviderKind};
use crate::domain::pricing::Price;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

use crate::server::services::audit::Entry;
use crate::server::services::catalog::{self as cat, Credential, NewModel, NewProvider};
use crate::server::services::{control, new_id, Actor, Result, ServiceError, Services};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pool {
    pub id: String,
    pub name: String,
    /// The base model as the engines list it (and the catalog names it).
    pub base_model: String,
    pub max_loras: i64,
    pub max_lora_rank: i64,
    /// Other names adapters may give for the base model.
    pub aliases: Vec<String>,
    pub endpoints: Vec<Endpoint>,
    /// Where the engines are: tenants reach them under the data-location
    /// rule like any provider (`any`: every region).
    pub region: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// The provider the gateway calls it through.
    pub provider: String,
    pub base_url: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPool {
    pub name: String,
    pub base_model: String,
    /// The engines' base URLs (`…/v1`).
    pub endpoints: Vec<String>,
    #[serde(default = "default_max_loras")]
    pub max_loras: i64,
    pub max_lora_rank: i64,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub price: Price,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: i64,
    /// A region code, or `any`; required, so engines are never placed
    /// everywhere by default.
    pub region: String,
}

fn default_max_loras() -> i64 {
    DEFAULT_MAX_LORAS
}

fn default_timeout_ms() -> i64 {
    60_000
}

/// vLLM's own default for `--max-loras`: what a pool holds when the
/// operator does not say.
pub const DEFAULT_MAX_LORAS: i64 = 1;

#[derive(FromRow)]
struct PoolRow {
    id: String,
    name: String,
    base_model: String,
    max_loras: i64,
    max_lora_rank: i64,
    base_aliases: String,
    region: String,
}

/// Checks everything before creating anything, so a bad endpoint leaves
/// no half-made pool behind.
fn check(svc: &Services, new: &NewPool) -> Result<Vec<String>> {
    let name = catalog::provider_name(&new.name)?;
    catalog::model_name(&new.base_model)?;
    if new.endpoints.is_empty() || new.endpoints.len() > 64 {
        return Err(Invalid::new("endpoint", "give 1 to 64 endpoints").into());
    }
    // vLLM serves at most `--max-loras` adapters per batch; an unlimited
    // pool would let one tenant's adapters fill every engine.
    if !(1..=4096).contains(&new.max_loras) {
        return Err(Invalid::new("max_loras", "must be 1 to 4096 (vLLM's --max-loras)").into());
    }
    pool_region(&new.region)?;
    if !(1..=1024).contains(&new.max_lora_rank) {
        return Err(Invalid::new("max_lora_rank", "must be 1 to 1024").into());
    }
    for a in &new.aliases {
        catalog::model_name(a)?;
    }
    let urls = new
        .endpoints
        .iter()
        .map(|u| catalog::base_url(u, &svc.config.allow_private_upstreams).map(with_v1))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let _ = name;
    Ok(urls)
}

/// `any`, or a region code as tenants' data locations use.
pub(super) fn pool_region(raw: &str) -> Result<String> {
    let r = raw.trim();
    if r.eq_ignore_ascii_case(catalog::ANY_REGION) {
        return Ok(catalog::ANY_REGION.to_string());
    }
    Ok(crate::domain::tenant::region(r)?)
}

/// vLLM serves its OpenAI API under `/v1`; an endpoint given without it
/// gets it, so `http://engine:8000` and `http://engine:8000/v1` agree.
pub(super) fn with_v1(url: String) -> String {
    if url.ends_with("/v1") {
        url
    } else {
        format!("{url}/v1")
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn add(svc: &Services, actor: &Actor, new: NewPool) -> Result<Pool> {
    actor.require_platform_admin()?;
    let urls = check(svc, &new)?;
    let name = new.name.trim().to_string();
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM serving_pools WHERE name = $1")
        .bind(&name)
        .fetch_optional(&svc.db.pool)
        .await?;
    if taken.is_some() {
        return Err(ServiceError::Conflict(
            "a pool with this name already exists".into(),
        ));
    }
    let base = new.base_model.trim().to_string();
    if for_base_model(svc, &base).await?.is_some() {
        return Err(ServiceError::Conflict(format!("{base} already has a pool")));
    }
    let region = pool_region(&new.region)?;
    let mut providers = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let engine = EngineSpec {
            pool: &name,
            n: i + 1,
            url,
            timeout_ms: new.timeout_ms,
            region: &region,
        };
        providers.push((engine_provider(svc, actor, engine).await?, url.clone()));
    }
    let model_id = base_model_id(svc, actor, &base, &providers, new.price).await?;
    let id = new_id();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO serving_pools (id, name, base_model, model_id, max_loras, max_lora_rank, \
         base_aliases, created_at, region) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&name)
    .bind(&base)
    .bind(&model_id)
    .bind(new.max_loras)
    .bind(new.max_lora_rank)
    .bind(serde_json::to_string(&new.aliases).unwrap_or_else(|_| "[]".into()))
    .bind(now_millis())
    .bind(&region)
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on("a pool with this name"))?;
    for (provider, url) in &providers {
        attach(&mut tx, &id, &model_id, &base, provider, url).await?;
    }
    let e = Entry::success(AuditAction::PoolCreate, "pool", &id).details(json!({
        "name": name, "base_model": base, "endpoints": urls, "region": region,
        "max_loras": new.max_loras, "max_lora_rank": new.max_lora_rank }));
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await?;
    svc.pools.wake();
    get(svc, &id).await?.ok_or(ServiceError::NotFound("pool"))
}

/// One engine of a pool, as a provider is made of it.
pub(super) struct EngineSpec<'a> {
    pub pool: &'a str,
    /// Its place in the pool: the provider is `POOL-N`.
    pub n: usize,
    pub url: &'a str,
    pub timeout_ms: i64,
    pub region: &'a str,
}

/// An engine as a provider the gateway calls: `POOL-N`, OpenAI-compatible,
/// in the pool's region.
pub(super) async fn engine_provider(
    svc: &Services,
    actor: &Actor,
    e: EngineSpec<'_>,
) -> Result<String> {
    let provider = format!("{}-{}", e.pool, e.n);
    let new = NewProvider {
        name: provider.clone(),
        kind: ProviderKind::Openai,
        base_url: e.url.to_string(),
        region: e.region.to_string(),
        timeout_ms: e.timeout_ms,
        credential: Credential::None,
    };
    cat::add_provider(svc, actor, new).await?;
    Ok(provider)
}

/// Makes an engine one of the pool's endpoints, serving the base model too.
pub(super) async fn attach(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
    model_id: &str,
    base: &str,
    provider: &str,
    url: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pool_endpoints (pool_id, provider_id, base_url) \
         SELECT $1, id, $2 FROM providers WHERE name = $3",
    )
    .bind(pool_id)
    .bind(url)
    .bind(provider)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO deployments (model_id, provider_id, upstream_model, priority) \
         SELECT $1, id, $2, 0 FROM providers WHERE name = $3 \
         ON CONFLICT (model_id, provider_id) DO NOTHING",
    )
    .bind(model_id)
    .bind(base)
    .bind(provider)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The catalog model the pool serves: an existing one keeps its prices;
/// a new one is added, priced as given, on the first engine.
async fn base_model_id(
    svc: &Services,
    actor: &Actor,
    base: &str,
    providers: &[(String, String)],
    price: Price,
) -> Result<String> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
        .bind(base)
        .fetch_optional(&svc.db.pool)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let first = providers
        .first()
        .map(|p| p.0.clone())
        .ok_or_else(|| ServiceError::Internal("a pool without endpoints".into()))?;
    let model = cat::add_model(
        svc,
        actor,
        NewModel {
            name: base.to_string(),
            provider: first,
            upstream_model: None,
            price,
            priority: 0,
        },
    )
    .await?;
    Ok(model.id)
}

async fn get(svc: &Services, id: &str) -> Result<Option<Pool>> {
    Ok(all(svc).await?.into_iter().find(|p| p.id == id))
}

/// Every pool with its endpoints (no secrets: engines take none here).
pub(super) async fn all(svc: &Services) -> Result<Vec<Pool>> {
    let rows: Vec<PoolRow> = sqlx::query_as(
        "SELECT id, name, base_model, max_loras, max_lora_rank, base_aliases, region \
         FROM serving_pools ORDER BY name",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    let eps: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT e.pool_id, p.name, e.base_url FROM pool_endpoints e \
         JOIN providers p ON p.id = e.provider_id ORDER BY p.name",
    )
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let aliases: Vec<String> = serde_json::from_str(&r.base_aliases).map_err(|_| {
                ServiceError::Internal(format!("pool {}: bad base_aliases", r.name))
            })?;
            Ok(Pool {
                aliases,
                endpoints: eps
                    .iter()
                    .filter(|(pool, _, _)| *pool == r.id)
                    .map(|(_, provider, url)| Endpoint {
                        provider: provider.clone(),
                        base_url: url.clone(),
                    })
                    .collect(),
                id: r.id,
                name: r.name,
                base_model: r.base_model,
                max_loras: r.max_loras,
                max_lora_rank: r.max_lora_rank,
                region: r.region,
            })
        })
        .collect()
}

/// Pools, for platform admins.
pub async fn list(svc: &Services, actor: &Actor) -> Result<Vec<Pool>> {
    actor.require_platform_read()?;
    all(svc).await
}

/// The pool that serves a catalog model, if any.
pub async fn for_base_model(svc: &Services, model: &str) -> Result<Option<Pool>> {
    Ok(all(svc).await?.into_iter().find(|p| p.base_model == model))
}

/// Every name an adapter's `base_model_name_or_path` may give for the
/// pool's base model: the engines' name and the catalog's upstream names.
pub async fn base_names(svc: &Services, pool: &Pool) -> Result<Vec<String>> {
    let mut names = vec![pool.base_model.clone()];
    names.extend(pool.aliases.iter().cloned());
    let upstream: Vec<String> = sqlx::query_scalar(
        "SELECT d.upstream_model FROM deployments d JOIN models m ON m.id = d.model_id \
         WHERE m.name = $1",
    )
    .bind(&pool.base_model)
    .fetch_all(&svc.db.pool)
    .await?;
    names.extend(upstream);
    names.sort();
    names.dedup();
    Ok(names)
}

/// The base models tenants can register adapters for: those with a pool.
pub async fn base_models(svc: &Services) -> Result<Vec<String>> {
    let mut names: Vec<String> = all(svc).await?.into_iter().map(|p| p.base_model).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

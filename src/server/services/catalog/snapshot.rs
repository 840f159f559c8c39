//! The in-memory catalog the gateway routes from without touching the
//! database: loaded in one go, with provider secrets opened in memory only.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use sqlx::{AnyConnection, FromRow};

use crate::domain::catalog::{Deployment, Model, Provider};
use crate::domain::completion::ServerTools;
use crate::domain::price::{EvaluationPrices, PriceHistory, PriceVersion};
use crate::domain::pricing::Price;
use crate::domain::time::now_millis;

use super::credential_label;
use crate::server::services::custom_models::{
    self,
    routes::{CustomRoute, Routes},
};
use crate::server::services::{consistent_read, Result, ServiceError, Services};

/// A provider with its resolved secret, held only in memory.
pub struct ProviderEntry {
    pub provider: Provider,
    pub api_key: Option<String>,
    /// Parsed once here rather than on every call: normalised as a URL
    /// (IDNA host, percent-encoding), then as the URI hyper sends to.
    pub endpoint: Option<http::Uri>,
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
    /// What one OFREP flag evaluation costs, by version (none: free).
    pub evaluation_prices: EvaluationPrices,
    /// Tenants' served custom models: tenant → `name` and `name:version`.
    custom: Routes,
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

    /// A tenant's custom model by the name a client asked for.
    /// Whether the tenant has an alias of this name (DESIGN §1 step 4: an
    /// alias comes before a custom model).
    pub fn has_alias(&self, tenant_id: &str, requested: &str) -> bool {
        !self.aliases.is_empty()
            && self
                .aliases
                .contains_key(&(tenant_id.to_string(), requested.to_string()))
    }

    /// Looked up by reference: every request asks, custom or not.
    /// Whether `requested` names anything this tenant can call: the
    /// ledger keeps only such names, so made-up ones cannot mint rows.
    pub fn knows(&self, tenant_id: &str, requested: &str) -> bool {
        self.custom(tenant_id, requested).is_some() || self.resolve(tenant_id, requested).is_some()
    }

    pub fn custom(&self, tenant_id: &str, requested: &str) -> Option<Arc<CustomRoute>> {
        self.custom.get(tenant_id)?.get(requested).cloned()
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
            .chain(
                self.custom
                    .get(tenant_id)
                    .into_iter()
                    .flat_map(|m| m.keys().cloned()),
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
struct PriceRow {
    model_id: String,
    effective_from: i64,
    input_micros_per_mtok: i64,
    output_micros_per_mtok: i64,
    cache_read_micros_per_mtok: i64,
    cache_write_micros_per_mtok: i64,
    request_micros: i64,
    server_tool_use_micros: i64,
}

impl PriceRow {
    fn version(&self) -> PriceVersion {
        PriceVersion {
            effective_from: self.effective_from,
            price: Price {
                input_per_mtok: self.input_micros_per_mtok,
                output_per_mtok: self.output_micros_per_mtok,
                cache_read_per_mtok: self.cache_read_micros_per_mtok,
                cache_write_per_mtok: self.cache_write_micros_per_mtok,
                per_request: self.request_micros,
                per_server_tool_use: self.server_tool_use_micros,
            },
        }
    }
}

/// Every model's price versions, by model id.
async fn load_prices(conn: &mut AnyConnection) -> Result<ById<PriceHistory>> {
    let rows: Vec<PriceRow> = sqlx::query_as(
        "SELECT model_id, effective_from, input_micros_per_mtok, output_micros_per_mtok, \
         cache_read_micros_per_mtok, cache_write_micros_per_mtok, request_micros, \
         server_tool_use_micros FROM model_prices",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_model: ById<Vec<PriceVersion>> = HashMap::new();
    for r in &rows {
        by_model
            .entry(r.model_id.clone())
            .or_default()
            .push(r.version());
    }
    Ok(by_model
        .into_iter()
        .map(|(id, v)| (id, PriceHistory::new(v)))
        .collect())
}

/// The whole catalog from the database.
/// One read transaction, so providers, deployments and aliases agree with
/// each other even while a change commits.
pub(crate) async fn load(svc: &Services) -> Result<Catalog> {
    let mut tx = consistent_read(svc).await?;
    let (providers, by_id) = load_providers(svc, &mut tx).await?;
    let (models, names_by_id) = load_models(&mut tx, &by_id).await?;
    let alias_rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT tenant_id, alias, model_id FROM model_aliases")
            .fetch_all(&mut *tx)
            .await?;
    let evaluation_prices = load_evaluation_prices(&mut tx).await?;
    let custom = custom_models::routes::load(&mut tx, &models).await?;
    tx.commit().await?;
    let aliases = alias_rows
        .into_iter()
        .filter_map(|(t, a, m)| names_by_id.get(&m).map(|name| ((t, a), name.clone())))
        .collect();
    Ok(Catalog {
        providers,
        models,
        aliases,
        evaluation_prices,
        custom,
    })
}

async fn load_evaluation_prices(conn: &mut AnyConnection) -> Result<EvaluationPrices> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT effective_from, micros_per_evaluation FROM evaluation_prices")
            .fetch_all(&mut *conn)
            .await?;
    Ok(PriceHistory::new(
        rows.into_iter()
            .map(|(effective_from, price)| PriceVersion {
                effective_from,
                price,
            })
            .collect(),
    ))
}

type ById<T> = HashMap<String, T>;

/// Providers by name and by id, secrets opened.
async fn load_providers(
    svc: &Services,
    conn: &mut AnyConnection,
) -> Result<(
    HashMap<String, Arc<ProviderEntry>>,
    ById<Arc<ProviderEntry>>,
)> {
    let rows: Vec<ProviderRow> = sqlx::query_as(
        "SELECT id, name, kind, base_url, region, timeout_ms, api_key_env, api_key_enc FROM providers",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_id = HashMap::new();
    let mut by_name = HashMap::new();
    for r in rows {
        let entry = Arc::new(provider_entry(svc, &r)?);
        by_id.insert(r.id, entry.clone());
        by_name.insert(r.name, entry);
    }
    Ok((by_name, by_id))
}

fn provider_entry(svc: &Services, r: &ProviderRow) -> Result<ProviderEntry> {
    // An unset variable means no key: the operator chose where it comes from.
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
        base_url: r.base_url.clone(),
        region: r.region.clone(),
        timeout_ms: r.timeout_ms,
        credential: credential_label(r.api_key_env.as_deref(), r.api_key_enc.is_some()),
    };
    let endpoint = reqwest::Url::parse(&provider.endpoint())
        .ok()
        .filter(|url| literal_allowed(url, &svc.config.allow_private_upstreams, &r.name))
        .and_then(|url| url.as_str().parse::<http::Uri>().ok());
    Ok(ProviderEntry {
        provider,
        api_key,
        endpoint,
    })
}

/// A provider whose URL, as the URL parser reads it, is a private address
/// literal is not called, whatever spelling got it registered (the check
/// at registration reads the URL with its own, simpler parser).
fn literal_allowed(url: &reqwest::Url, allowed: &[String], provider: &str) -> bool {
    let ok = crate::server::net::literal_allowed(url, allowed);
    if !ok {
        tracing::error!(
            provider,
            "the provider's URL is a private address: it is not called"
        );
    }
    ok
}

/// Models by name with their deployments, best first, and names by id.
async fn load_models(
    conn: &mut AnyConnection,
    providers: &ById<Arc<ProviderEntry>>,
) -> Result<(HashMap<String, Arc<Model>>, ById<String>)> {
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT model_id, provider_id, upstream_model, priority FROM deployments")
            .fetch_all(&mut *conn)
            .await?;
    let mut deployments: ById<Vec<Deployment>> = HashMap::new();
    for (model_id, provider_id, upstream_model, priority) in rows {
        if let Some(e) = providers.get(&provider_id) {
            deployments.entry(model_id).or_default().push(Deployment {
                provider: e.provider.clone(),
                upstream_model,
                priority,
            });
        }
    }
    let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, name, created_at, server_tool_max_uses, server_tool_tokens_per_use FROM models",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut prices = load_prices(conn).await?;
    let now = now_millis();
    let mut names_by_id = HashMap::new();
    let mut models = HashMap::new();
    for (id, name, created_at, max_uses, tokens_per_use) in rows {
        let mut deps = deployments.remove(&id).unwrap_or_default();
        deps.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(a.provider.name.cmp(&b.provider.name))
        });
        let history = prices.remove(&id).unwrap_or_default();
        // Never priced at nothing: a model without a version in force is
        // a damaged catalog, refused rather than served free.
        let price = history
            .at(now)
            .map(|v| v.price)
            .ok_or_else(|| ServiceError::Internal(format!("model {name} has no price in force")))?;
        let model = Model {
            id: id.clone(),
            name: name.clone(),
            price,
            prices: history,
            deployments: deps,
            created_at,
            // Stored only through `ServerTools::new`, so already in range.
            server_tools: ServerTools {
                max_uses,
                tokens_per_use,
            },
        };
        names_by_id.insert(id, name.clone());
        models.insert(name, Arc::new(model));
    }
    Ok((models, names_by_id))
}

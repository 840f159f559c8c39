//! Model deployments: thin adapters over `services::custom_models`. A
//! tenant's custom models for its users (its admins act, its viewers
//! read); pools and their engines for platform admins.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::custom_model::CustomModel;

/// One endpoint of a pool, as the reconciler last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointRow {
    pub pool: String,
    pub provider: String,
    pub base_url: String,
    pub reachable: bool,
    pub loaded: Vec<String>,
    pub repaired: Vec<String>,
    pub repaired_at: Option<i64>,
    pub error: Option<String>,
    pub checked_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolRow {
    pub name: String,
    pub base_model: String,
    pub max_loras: i64,
    pub max_lora_rank: i64,
    pub endpoints: usize,
    pub region: String,
}

/// A version with where it is loaded: (endpoint, reachable, loaded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: CustomModel,
    pub engine_name: String,
    pub endpoints: Vec<(String, bool, bool)>,
    /// This month: requests and their cost.
    pub requests: i64,
    pub cost_micros: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentsView {
    pub models: Vec<ModelRow>,
    pub pools: Vec<PoolRow>,
    pub endpoints: Vec<EndpointRow>,
    /// Base models tenants can build on (those with a pool).
    pub base_models: Vec<String>,
    pub can_manage: bool,
    /// Pinning keeps an adapter resident in a shared pool: platform admins only.
    pub can_pin: bool,
}

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid, parse_tenant};

/// Everything the page shows: a tenant's versions (`tenant` set) and,
/// for platform admins, every pool and engine.
#[server(endpoint = "deployments")]
pub async fn deployments(
    #[server(default)] tenant: String,
) -> Result<DeploymentsView, ServerFnError> {
    use crate::domain::role::Access;
    use crate::server::services::custom_models::{self, reconcile};
    let (svc, actor) = actor().await?;
    let (models, can_manage) = match tenant.trim() {
        "" => (vec![], actor.is_platform_admin()),
        t => {
            let id = parse_tenant(t)?;
            let views = custom_models::views(&svc, &actor, &id)
                .await
                .map_err(fail)?;
            (views, actor.require(&id, Access::Manage).is_ok())
        }
    };
    let overview = if actor.is_platform_admin() {
        Some(
            reconcile::overview(&svc, &actor, false)
                .await
                .map_err(fail)?,
        )
    } else {
        None
    };
    let base_models = custom_models::pools::base_models(&svc)
        .await
        .map_err(fail)?;
    let (pools, endpoints) = overview.map_or((vec![], vec![]), |o| {
        let pools = o.pools.into_iter().map(|p| PoolRow {
            endpoints: p.endpoints.len(),
            name: p.name,
            base_model: p.base_model,
            max_loras: p.max_loras,
            max_lora_rank: p.max_lora_rank,
            region: p.region,
        });
        let eps = o.endpoints.into_iter().map(|e| EndpointRow {
            pool: e.pool,
            provider: e.provider,
            base_url: e.base_url,
            reachable: e.reachable,
            loaded: e.loaded.into_iter().collect(),
            repaired: e.repaired,
            repaired_at: e.repaired_at,
            error: e.error,
            checked_at: e.checked_at,
        });
        (pools.collect(), eps.collect())
    });
    Ok(DeploymentsView {
        models: models
            .into_iter()
            .map(|v| ModelRow {
                endpoints: v
                    .endpoints
                    .into_iter()
                    .map(|p| (p.provider, p.reachable, p.loaded))
                    .collect(),
                engine_name: v.engine_name,
                requests: v.usage.requests,
                cost_micros: v.usage.cost_micros,
                model: v.model,
            })
            .collect(),
        pools,
        endpoints,
        base_models,
        can_manage,
        can_pin: actor.is_platform_admin(),
    })
}

#[server(endpoint = "register_custom_model")]
pub async fn register_custom_model(
    tenant: String,
    name: String,
    base_model: String,
    adapter: String,
    #[server(default)] version: String,
    #[server(default)] training: String,
) -> Result<CustomModel, ServerFnError> {
    use crate::domain::validation::optional_whole_number;
    use crate::server::services::custom_models::{self, NewCustomModel};
    let (svc, actor) = actor().await?;
    let version = optional_whole_number("version", &version)
        .map_err(invalid)?
        .map(|v| {
            u32::try_from(v).map_err(|_| {
                crate::domain::validation::Invalid::new("version", "must be 1 or more")
            })
        })
        .transpose()
        .map_err(invalid)?;
    let new = NewCustomModel {
        tenant_id: parse_tenant(&tenant)?,
        name,
        base_model,
        adapter,
        version,
        fine_tune_config: None,
        training: !training.trim().is_empty(),
        input_per_mtok: None,
        output_per_mtok: None,
        markup_percent: None,
        hosting_fee_micros: 0,
    };
    custom_models::register(&svc, &actor, new)
        .await
        .map_err(fail)
}

/// One lifecycle action on one version (`name:version`).
#[server(endpoint = "custom_model_action")]
pub async fn custom_model_action(
    tenant: String,
    model: String,
    action: String,
) -> Result<CustomModel, ServerFnError> {
    use crate::domain::custom_model::Action;
    use crate::server::services::custom_models::lifecycle;
    let (svc, actor) = actor().await?;
    let t = parse_tenant(&tenant)?;
    let action = Action::parse(&action).map_err(invalid)?;
    lifecycle::act(&svc, &actor, &t, &model, action)
        .await
        .map_err(fail)
}

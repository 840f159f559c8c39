//! Custom models in the catalog snapshot, so step 4 routes them without
//! touching the database: a tenant's `name` (its active version) and
//! `name:version` (any served version) resolve to a model whose
//! deployments are its pool's endpoints, called with the adapter's engine
//! name. Another tenant has no entry, so it gets "not found".

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::AnyConnection;

use crate::domain::catalog::Model;
use crate::domain::custom_model::{CustomModel, Status};
use crate::domain::flag::Capability;
use crate::domain::time::{now_millis, Millis};

use super::{Row, COLUMNS};
use crate::server::services::{flags, Result, Services};

/// One served version, as the gateway routes it.
#[derive(Debug)]
pub struct CustomRoute {
    /// Named `name:version`, priced as the custom model, deployed on the
    /// pool's endpoints with the engine name as the upstream model.
    pub model: Arc<Model>,
    pub engine_name: String,
    pub base_model: String,
    /// Set while deprecated: when it stops being served.
    pub deprecated_until: Option<Millis>,
}

/// Tenant → (`name` or `name:version` → route).
pub type Routes = HashMap<String, HashMap<String, Arc<CustomRoute>>>;

/// Every served version of every tenant, keyed by (tenant, name) for the
/// active version and (tenant, name:version) for each.
pub(crate) async fn load(
    conn: &mut AnyConnection,
    models: &HashMap<String, Arc<Model>>,
) -> Result<Routes> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_models c WHERE c.status IN ('deployed', 'deprecated')"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let pool_providers: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.base_model, p.name FROM serving_pools s \
         JOIN pool_endpoints e ON e.pool_id = s.id JOIN providers p ON p.id = e.provider_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut routes: Routes = HashMap::new();
    for row in rows {
        let m = row.into_model()?;
        let Some(base) = models.get(&m.base_model) else {
            continue;
        };
        let route = Arc::new(route(&m, base, &pool_providers));
        let tenant = routes.entry(m.tenant_id.clone()).or_default();
        if m.active {
            tenant.insert(m.name.clone(), route.clone());
        }
        tenant.insert(m.versioned_name(), route);
    }
    Ok(routes)
}

fn route(m: &CustomModel, base: &Model, pool_providers: &[(String, String)]) -> CustomRoute {
    let engine_name = m.engine_name();
    let deployments = base
        .deployments
        .iter()
        .filter(|d| {
            pool_providers
                .iter()
                .any(|(b, p)| *b == m.base_model && *p == d.provider.name)
        })
        .map(|d| {
            let mut d = d.clone();
            d.upstream_model = engine_name.clone();
            d
        })
        .collect();
    let prices = m.prices(&base.prices);
    let price = prices
        .at(now_millis())
        .map(|v| v.price)
        .unwrap_or(base.price);
    CustomRoute {
        model: Arc::new(Model {
            id: m.id.clone(),
            name: m.versioned_name(),
            price,
            prices,
            deployments,
            created_at: m.created_at,
            // Engines run no provider-side tools.
            server_tools: crate::domain::completion::ServerTools::default(),
        }),
        engine_name,
        base_model: m.base_model.clone(),
        deprecated_until: (m.status == Status::Deprecated)
            .then_some(m.deprecated_until)
            .flatten(),
    }
}

/// Whether the tenant may call its custom models (the `models.custom`
/// platform flag, as the gateway sees the tenant).
pub fn allowed(svc: &Services, ctx: &crate::domain::flag::Context) -> Result<bool> {
    flags::capability(svc, Capability::ModelsCustom, ctx)
}

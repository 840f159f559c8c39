//! Step 4, route: the model a client named → the tenant's alias → its
//! custom model → a catalog model → the deployments it may use, in priority
//! order. The data-location rule lives here: a tenant only reaches
//! providers in its allowed regions. Reads only the catalog snapshot;
//! nothing is copied per request.

use std::sync::Arc;

use super::error::GatewayError;
use crate::domain::catalog::{Deployment, Model};
use crate::server::services::api_keys::Authenticated;
use crate::server::services::catalog::Catalog;
use crate::server::services::custom_models::routes::CustomRoute;

/// Where a request may go: its catalog model and which of the model's
/// deployments serve the tenant's data location.
pub struct Route {
    pub model: Arc<Model>,
    eligible: Vec<usize>,
    /// Set when the name is one of the tenant's custom models.
    pub custom: Option<Arc<CustomRoute>>,
}

impl Route {
    /// The deployments to try, best first.
    pub fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.eligible.iter().map(|&i| &self.model.deployments[i])
    }

    /// Tries these providers first (an adapter's engines that have it
    /// loaded), keeping the order otherwise.
    pub fn prefer(&mut self, providers: &[String]) {
        let deployments = &self.model.deployments;
        self.eligible
            .sort_by_key(|&i| !providers.contains(&deployments[i].provider.name));
    }
}

pub fn resolve(
    catalog: &Catalog,
    auth: &Authenticated,
    requested: &str,
) -> Result<Route, GatewayError> {
    let tenant = auth.tenant.id.as_str();
    let custom = if catalog.has_alias(tenant, requested) {
        None
    } else {
        catalog.custom(tenant, requested)
    };
    let model = match &custom {
        Some(c) => c.model.clone(),
        None => catalog
            .resolve(&auth.tenant.id, requested)
            .ok_or_else(|| GatewayError::NotFound(format!("model {requested} not found")))?,
    };
    let location = &auth.tenant.data_location;
    let eligible: Vec<usize> = model
        .deployments
        .iter()
        .enumerate()
        .filter(|(_, d)| d.provider.serves_region(location))
        .map(|(i, _)| i)
        .collect();
    if eligible.is_empty() {
        return Err(GatewayError::Forbidden(format!(
            "model {requested} is not available in this tenant's data location ({location})"
        )));
    }
    Ok(Route {
        model,
        eligible,
        custom,
    })
}

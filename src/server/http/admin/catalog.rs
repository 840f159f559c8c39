//! `/admin/v1/catalog/…`: providers, models and their prices and
//! server-side tools (platform scopes), and `/admin/v1/tenants/{id}/aliases`
//! (the tenant's own names for models). Model names may hold `/`: send it
//! URL-encoded (`%2F`) in a path.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::body;
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, AliasPage, ModelPage, ProviderPage};
use crate::domain::catalog::{Model, ModelAlias, NewModel, NewProvider, Provider, ProviderPatch};
use crate::domain::completion::ServerTools;
use crate::domain::price::{PriceHistory, PriceVersion};
use crate::domain::pricing::Price;
use crate::domain::time::Millis;
use crate::server::services::catalog::{self, prices};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_providers, create_provider))
        .routes(routes!(update_provider, remove_provider))
        .routes(routes!(list_models, create_model))
        .routes(routes!(remove_model))
        .routes(routes!(set_server_tools))
        .routes(routes!(price_history, set_price))
        .routes(routes!(list_aliases))
        .routes(routes!(set_alias, remove_alias))
}

#[utoipa::path(operation_id = "list_providers", get, path = "/catalog/providers", tag = "catalog",
    responses((status = 200, body = ProviderPage), (status = "4XX", body = Problem)))]
async fn list_providers(caller: Caller) -> ApiResult<Json<ProviderPage>> {
    let (data, _) = catalog::list(&caller.svc, &caller.actor).await?;
    Ok(Json(ProviderPage::from(data)))
}

/// Adds a provider. A `stored` credential is sealed and never shown again.
#[utoipa::path(operation_id = "create_provider", post, path = "/catalog/providers", tag = "catalog", request_body = NewProvider,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Provider), (status = "4XX", body = Problem)))]
async fn create_provider(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewProvider| async move { catalog::add_provider(svc, actor, new).await };
    posted.create(&caller, make).await
}

/// Changes a provider's address, region, timeout or credential.
#[utoipa::path(operation_id = "update_provider", patch, path = "/catalog/providers/{name}", tag = "catalog", request_body = ProviderPatch,
    params(("name" = String, Path)),
    responses((status = 200, body = Provider), (status = "4XX", body = Problem)))]
async fn update_provider(
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Provider>> {
    let patch: ProviderPatch = body(&bytes)?;
    let updated = catalog::update_provider(&caller.svc, &caller.actor, &name, patch);
    Ok(Json(updated.await?))
}

/// Removes a provider; refused (409) while a model is deployed on it.
#[utoipa::path(operation_id = "remove_provider", delete, path = "/catalog/providers/{name}", tag = "catalog",
    params(("name" = String, Path)),
    responses((status = 200, body = Provider), (status = "4XX", body = Problem)))]
async fn remove_provider(caller: Caller, Path(name): Path<String>) -> ApiResult<Json<Provider>> {
    let removed = catalog::remove_provider(&caller.svc, &caller.actor, &name);
    Ok(Json(removed.await?))
}

#[utoipa::path(operation_id = "list_models", get, path = "/catalog/models", tag = "catalog",
    responses((status = 200, body = ModelPage), (status = "4XX", body = Problem)))]
async fn list_models(caller: Caller) -> ApiResult<Json<ModelPage>> {
    let (_, data) = catalog::list(&caller.svc, &caller.actor).await?;
    Ok(Json(ModelPage::from(data)))
}

/// Adds a model, or another deployment of a model of that name (its
/// price then changes from now on).
#[utoipa::path(operation_id = "create_model", post, path = "/catalog/models", tag = "catalog", request_body = NewModel,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Model), (status = "4XX", body = Problem)))]
async fn create_model(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewModel| async move { catalog::add_model(svc, actor, new).await };
    posted.create(&caller, make).await
}

/// Removes a model with its deployments and prices; refused (409) while
/// a tenant alias or serving pool points at it.
#[utoipa::path(operation_id = "remove_model", delete, path = "/catalog/models/{name}", tag = "catalog",
    params(("name" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem)))]
async fn remove_model(caller: Caller, Path(name): Path<String>) -> ApiResult<StatusCode> {
    catalog::remove_model(&caller.svc, &caller.actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Allows (or with `max_uses` 0 refuses) the model's server-side tools.
#[utoipa::path(operation_id = "set_server_tools", put, path = "/catalog/models/{name}/server-tools", tag = "catalog", request_body = ServerTools,
    params(("name" = String, Path)),
    responses((status = 200, body = ServerTools), (status = "4XX", body = Problem)))]
async fn set_server_tools(
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<ServerTools>> {
    let asked: ServerTools = body(&bytes)?;
    let tools = ServerTools::new(asked.max_uses, asked.tokens_per_use)
        .map_err(crate::server::services::ServiceError::from)?;
    let set = catalog::set_server_tools(&caller.svc, &caller.actor, &name, tools);
    Ok(Json(set.await?))
}

/// The model's price versions, oldest first.
#[utoipa::path(operation_id = "price_history", get, path = "/catalog/models/{name}/prices", tag = "catalog",
    params(("name" = String, Path)),
    responses((status = 200, body = PriceHistory), (status = "4XX", body = Problem)))]
async fn price_history(caller: Caller, Path(name): Path<String>) -> ApiResult<Json<PriceHistory>> {
    Ok(Json(
        prices::history(&caller.svc, &caller.actor, &name).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    pub price: Price,
    /// Milliseconds since the epoch; absent: now. Never in the past.
    #[serde(default)]
    pub effective_from: Option<Millis>,
}

/// Schedules a new price from `effective_from`; usage already made keeps
/// its price.
#[utoipa::path(operation_id = "set_price", post, path = "/catalog/models/{name}/prices", tag = "catalog", request_body = PriceChange,
    params(("name" = String, Path)),
    responses((status = 201, body = PriceVersion), (status = "4XX", body = Problem)))]
async fn set_price(
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<(StatusCode, Json<PriceVersion>)> {
    let change: PriceChange = body(&bytes)?;
    let set = prices::set(
        &caller.svc,
        &caller.actor,
        &name,
        change.price,
        change.effective_from,
    );
    Ok((StatusCode::CREATED, Json(set.await?)))
}

#[utoipa::path(operation_id = "list_aliases", get, path = "/tenants/{id}/aliases", tag = "catalog",
    params(("id" = String, Path)),
    responses((status = 200, body = AliasPage), (status = "4XX", body = Problem)))]
async fn list_aliases(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<AliasPage>> {
    let id = tenant_id(&id)?;
    let data = catalog::aliases(&caller.svc, &caller.actor, &id).await?;
    Ok(Json(AliasPage::from(data)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasTarget {
    /// The catalog model the alias routes to.
    pub model: String,
}

/// Points the tenant's alias at a catalog model (creates or replaces).
#[utoipa::path(operation_id = "set_alias", put, path = "/tenants/{id}/aliases/{alias}", tag = "catalog", request_body = AliasTarget,
    params(("id" = String, Path), ("alias" = String, Path)),
    responses((status = 200, body = ModelAlias), (status = "4XX", body = Problem)))]
async fn set_alias(
    caller: Caller,
    Path((id, alias)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<ModelAlias>> {
    let id = tenant_id(&id)?;
    let target: AliasTarget = body(&bytes)?;
    let svc = &caller.svc;
    catalog::set_alias(svc, &caller.actor, &id, &alias, &target.model).await?;
    let all = catalog::aliases(svc, &caller.actor, &id).await?;
    let set = all.into_iter().find(|a| a.alias == alias.trim());
    Ok(Json(set.ok_or(
        crate::server::services::ServiceError::NotFound("alias"),
    )?))
}

#[utoipa::path(operation_id = "remove_alias", delete, path = "/tenants/{id}/aliases/{alias}", tag = "catalog",
    params(("id" = String, Path), ("alias" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem)))]
async fn remove_alias(
    caller: Caller,
    Path((id, alias)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = tenant_id(&id)?;
    catalog::remove_alias(&caller.svc, &caller.actor, &id, &alias).await?;
    Ok(StatusCode::NO_CONTENT)
}

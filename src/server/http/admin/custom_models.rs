//! `/admin/v1/tenants/{id}/custom-models` (a tenant's LoRA adapters:
//! register, list, read, and one lifecycle action at a time) and
//! `/admin/v1/pools` (the platform's serving pools: list, create, add an
//! endpoint, remove), over the same services as the portal and CLI.

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
use super::{AdminState, CustomModelPage, PoolPage};
use crate::domain::custom_model::{Action, CustomModel};
use crate::server::services::custom_models::pools::{self, NewPool, Pool};
use crate::server::services::custom_models::{self, lifecycle, pool_edit, NewCustomModel};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(show))
        .routes(routes!(act))
        .routes(routes!(list_pools, create_pool))
        .routes(routes!(add_endpoint))
        .routes(routes!(remove_pool))
}

/// Every version of the tenant's custom models, by name and version.
#[utoipa::path(operation_id = "list_custom_models", get, path = "/tenants/{id}/custom-models", tag = "custom-models",
    params(("id" = String, Path)),
    responses((status = 200, body = CustomModelPage), (status = "4XX", body = Problem)))]
async fn list(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<CustomModelPage>> {
    let data = custom_models::list(&caller.svc, &caller.actor, &tenant_id(&id)?).await?;
    Ok(Json(CustomModelPage::from(data)))
}

/// Registers a version (validated at once unless `training`). The
/// tenant is the one in the path, whatever the body says.
#[utoipa::path(operation_id = "register_custom_model", post, path = "/tenants/{id}/custom-models", tag = "custom-models", request_body = NewCustomModel,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CustomModel), (status = "4XX", body = Problem)))]
async fn register(caller: Caller, Path(id): Path<String>, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let id = tenant_id(&id)?;
    let make = |mut doc: serde_json::Value| async move {
        if let Some(fields) = doc.as_object_mut() {
            fields.insert("tenant_id".into(), id.to_string().into());
        }
        let new: NewCustomModel =
            serde_json::from_value(doc).map_err(|e| Problem::bad_request("body", e.to_string()))?;
        Ok::<_, Problem>(custom_models::register(svc, actor, new).await?)
    };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_custom_model", get, path = "/tenants/{id}/custom-models/{model}", tag = "custom-models",
    params(("id" = String, Path), ("model" = String, Path, description = "`name` (the active version) or `name:version`")),
    responses((status = 200, body = CustomModel), (status = "4XX", body = Problem)))]
async fn show(
    caller: Caller,
    Path((id, model)): Path<(String, String)>,
) -> ApiResult<Json<CustomModel>> {
    let id = tenant_id(&id)?;
    Ok(Json(
        custom_models::find(&caller.svc, &caller.actor, &id, &model).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelAction {
    pub action: Action,
}

/// One lifecycle step: validate, deploy, undeploy, rollback, deprecate,
/// retire, pin or unpin (pinning is for platform admins).
#[utoipa::path(operation_id = "custom_model_action", post, path = "/tenants/{id}/custom-models/{model}/actions", tag = "custom-models", request_body = ModelAction,
    params(("id" = String, Path), ("model" = String, Path)),
    responses((status = 200, body = CustomModel), (status = "4XX", body = Problem)))]
async fn act(
    caller: Caller,
    Path((id, model)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<CustomModel>> {
    let id = tenant_id(&id)?;
    let asked: ModelAction = body(&bytes)?;
    let done = lifecycle::act(&caller.svc, &caller.actor, &id, &model, asked.action);
    Ok(Json(done.await?))
}

#[utoipa::path(operation_id = "list_pools", get, path = "/pools", tag = "custom-models",
    responses((status = 200, body = PoolPage), (status = "4XX", body = Problem)))]
async fn list_pools(caller: Caller) -> ApiResult<Json<PoolPage>> {
    let data = pools::list(&caller.svc, &caller.actor).await?;
    Ok(Json(PoolPage::from(data)))
}

/// Creates a serving pool: its engines become providers and its base
/// model a catalog model.
#[utoipa::path(operation_id = "create_pool", post, path = "/pools", tag = "custom-models", request_body = NewPool,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Pool), (status = "4XX", body = Problem)))]
async fn create_pool(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewPool| async move { pools::add(svc, actor, new).await };
    posted.create(&caller, make).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// The engine's base URL (`…/v1`).
    pub url: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: i64,
}

fn default_timeout_ms() -> i64 {
    60_000
}

#[utoipa::path(operation_id = "add_pool_endpoint", post, path = "/pools/{name}/endpoints", tag = "custom-models", request_body = NewEndpoint,
    params(("name" = String, Path)),
    responses((status = 200, body = Pool), (status = "4XX", body = Problem)))]
async fn add_endpoint(
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Pool>> {
    let new: NewEndpoint = body(&bytes)?;
    let svc = &caller.svc;
    let pool = pool_edit::add_endpoint(svc, &caller.actor, &name, &new.url, new.timeout_ms);
    Ok(Json(pool.await?))
}

/// Removes a pool; refused while a tenant's version is deployed on it.
#[utoipa::path(operation_id = "remove_pool", delete, path = "/pools/{name}", tag = "custom-models",
    params(("name" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem)))]
async fn remove_pool(caller: Caller, Path(name): Path<String>) -> ApiResult<StatusCode> {
    pool_edit::remove(&caller.svc, &caller.actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

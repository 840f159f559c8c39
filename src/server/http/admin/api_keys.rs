//! `/admin/v1/tenants/{id}/api-keys` and `/admin/v1/api-keys/{key}`:
//! create (secret shown once), list, read, rotate and revoke.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::json;
use super::conventions::{once, ApiQuery, Paging};
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, ApiKeyPage};
use crate::domain::api_key::{ApiKey, CreatedKey};
use crate::server::services::api_keys;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, revoke))
        .routes(routes!(rotate))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewKey {
    pub name: String,
    /// Days until the key stops working, 1 to 3650; none: never.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

#[utoipa::path(operation_id = "list_api_keys", get, path = "/tenants/{id}/api-keys", tag = "api-keys",
    params(("id" = String, Path), Paging),
    responses((status = 200, body = ApiKeyPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<ApiKeyPage>> {
    let id = tenant_id(&id)?;
    let page = paging.request()?;
    let keys = api_keys::list_cursor(&caller.svc, &caller.actor, &id, &page).await?;
    Ok(Json(keys.into()))
}

/// Creates a key; `key` in the answer is the secret, shown this once.
#[utoipa::path(operation_id = "create_api_key", post, path = "/tenants/{id}/api-keys", tag = "api-keys", request_body = NewKey,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CreatedKey), (status = "4XX", body = Problem)))]
async fn create(caller: Caller, Path(id): Path<String>, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let id = tenant_id(&id)?;
    let id = &id;
    let make = |new: NewKey| async move {
        api_keys::create(svc, actor, id, &new.name, new.expires_in_days).await
    };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_api_key", get, path = "/api-keys/{key_id}", tag = "api-keys",
    params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(key_id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(
        api_keys::get(&caller.svc, &caller.actor, &key_id).await?,
    ))
}

/// Revokes the key at once; revoking twice is harmless.
#[utoipa::path(operation_id = "revoke_api_key", delete, path = "/api-keys/{key_id}", tag = "api-keys",
    params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = "4XX", body = Problem)))]
async fn revoke(caller: Caller, Path(key_id): Path<String>) -> ApiResult<Json<ApiKey>> {
    Ok(Json(
        api_keys::revoke(&caller.svc, &caller.actor, &key_id).await?,
    ))
}

/// Issues a new secret under the same name and lifetime, and revokes the
/// old key.
#[utoipa::path(operation_id = "rotate_api_key", post, path = "/api-keys/{key_id}/rotate", tag = "api-keys",
    params(("key_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CreatedKey), (status = "4XX", body = Problem)))]
async fn rotate(
    caller: Caller,
    Path(key_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult<Response> {
    let svc = &caller.svc;
    once(&caller, &headers, (uri.path(), &Bytes::new()), || async {
        let created = api_keys::rotate(svc, &caller.actor, &key_id).await?;
        Ok((StatusCode::CREATED, json(&created)?))
    })
    .await
}

//! `/admin/v1/admin-tokens`: platform admins create (secret shown once),
//! list, read and revoke the tokens this API is called with.

use axum::extract::Path;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::{ApiQuery, Paging};
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::{AdminState, AdminTokenPage};
use crate::domain::admin_token::{AdminToken, CreatedToken, NewAdminToken};
use crate::server::services::admin_tokens;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, revoke))
}

#[utoipa::path(operation_id = "list_admin_tokens", get, path = "/admin-tokens", tag = "admin-tokens", params(Paging),
    responses((status = 200, body = AdminTokenPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<AdminTokenPage>> {
    let page = admin_tokens::list(&caller.svc, &caller.actor, &paging.request()?).await?;
    Ok(Json(page.into()))
}

/// Creates a token; `token` in the answer is the secret, shown this once.
#[utoipa::path(operation_id = "create_admin_token", post, path = "/admin-tokens", tag = "admin-tokens", request_body = NewAdminToken,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CreatedToken), (status = "4XX", body = Problem)))]
async fn create(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewAdminToken| async move { admin_tokens::create(svc, actor, new).await };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_admin_token", get, path = "/admin-tokens/{token_id}", tag = "admin-tokens",
    params(("token_id" = String, Path)),
    responses((status = 200, body = AdminToken), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(token_id): Path<String>) -> ApiResult<Json<AdminToken>> {
    Ok(Json(
        admin_tokens::get(&caller.svc, &caller.actor, &token_id).await?,
    ))
}

#[utoipa::path(operation_id = "revoke_admin_token", delete, path = "/admin-tokens/{token_id}", tag = "admin-tokens",
    params(("token_id" = String, Path)),
    responses((status = 200, body = AdminToken), (status = "4XX", body = Problem)))]
async fn revoke(caller: Caller, Path(token_id): Path<String>) -> ApiResult<Json<AdminToken>> {
    Ok(Json(
        admin_tokens::revoke(&caller.svc, &caller.actor, &token_id).await?,
    ))
}

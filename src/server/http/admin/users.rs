//! `/admin/v1/users`: portal accounts: create, list, read, disable and
//! enable, record a leaver, delete. Tenant admins reach their own tenant's.

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
use super::conventions::{body, ApiQuery, Paging};
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::{AdminState, UserPage};
use crate::domain::time::{now_millis, parse_rfc3339};
use crate::domain::user::{NewUserRequest, User};
use crate::server::services::users;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, delete))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(leave))
}

#[utoipa::path(get, path = "/users", tag = "users", operation_id = "list_users", params(Paging),
    responses((status = 200, body = UserPage), (status = "4XX", body = Problem)))]
async fn list(caller: Caller, ApiQuery(paging): ApiQuery<Paging>) -> ApiResult<Json<UserPage>> {
    let page = paging.request()?;
    Ok(Json(
        users::list_cursor(&caller.svc, &caller.actor, &page)
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/users", tag = "users", operation_id = "create_user",
    request_body = NewUserRequest, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = User), (status = "4XX", body = Problem)))]
async fn create(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewUserRequest| async move {
        let user = users::NewUser {
            email: &new.email,
            password: &new.password,
            role: new.role,
            tenant_id: new.tenant_id.as_deref(),
        };
        users::create(svc, actor, user).await
    };
    posted.create(&caller, make).await
}

#[utoipa::path(get, path = "/users/{user_id}", tag = "users", operation_id = "get_user",
    params(("user_id" = String, Path)),
    responses((status = 200, body = User), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(user_id): Path<String>) -> ApiResult<Json<User>> {
    Ok(Json(
        users::get(&caller.svc, &caller.actor, &user_id).await?,
    ))
}

/// Deletes the account for good (GDPR Art. 17); audit events keep naming
/// it as `user:<id>`.
#[utoipa::path(delete, path = "/users/{user_id}", tag = "users", operation_id = "delete_user",
    params(("user_id" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem)))]
async fn delete(caller: Caller, Path(user_id): Path<String>) -> ApiResult<StatusCode> {
    users::delete(&caller.svc, &caller.actor, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/users/{user_id}/disable", tag = "users", operation_id = "disable_user",
    params(("user_id" = String, Path)),
    responses((status = 200, body = User), (status = "4XX", body = Problem)))]
async fn disable(caller: Caller, Path(user_id): Path<String>) -> ApiResult<Json<User>> {
    Ok(Json(
        users::set_disabled(&caller.svc, &caller.actor, &user_id, true).await?,
    ))
}

#[utoipa::path(post, path = "/users/{user_id}/enable", tag = "users", operation_id = "enable_user",
    params(("user_id" = String, Path)),
    responses((status = 200, body = User), (status = "4XX", body = Problem)))]
async fn enable(caller: Caller, Path(user_id): Path<String>) -> ApiResult<Json<User>> {
    Ok(Json(
        users::set_disabled(&caller.svc, &caller.actor, &user_id, false).await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Leaver {
    /// When the person left, RFC 3339; now when absent.
    #[serde(default)]
    pub left_at: Option<String>,
}

/// Disables a leaver and records when they left (SOC 2 access evidence).
#[utoipa::path(post, path = "/users/{user_id}/leave", tag = "users", operation_id = "record_leaver",
    params(("user_id" = String, Path)), request_body = Leaver,
    responses((status = 200, body = User), (status = "4XX", body = Problem)))]
async fn leave(caller: Caller, Path(user_id): Path<String>, bytes: Bytes) -> ApiResult<Json<User>> {
    let leaver: Leaver = if bytes.is_empty() {
        Leaver::default()
    } else {
        body(&bytes)?
    };
    let left_at = match leaver.left_at.as_deref() {
        Some(t) => {
            parse_rfc3339(t).ok_or_else(|| Problem::bad_request("left_at", "must be RFC 3339"))?
        }
        None => now_millis(),
    };
    let user = users::mark_leaver(&caller.svc, &caller.actor, &user_id, left_at);
    Ok(Json(user.await?))
}

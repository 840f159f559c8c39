//! `/admin/v1/tenants`: create, list, read, update (If-Match), suspend and
//! resume, delete, and the tenant's data store, over the tenant services.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::{body, expected_revision, if_match, with_etag, ApiQuery, Paging};
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::{AdminState, TenantPage};
use crate::domain::tenant::{
    IsolationLevel, MoveReport, NewTenant, Tenant, TenantData, TenantId, TenantPatch, TenantStatus,
};
use crate::server::services::{tenant_data, tenants, ServiceError};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
        .routes(routes!(suspend))
        .routes(routes!(resume))
        .routes(routes!(data, move_isolation))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantFilter {
    /// Part of the tenant's name, any case.
    pub search: Option<String>,
}

pub fn tenant_id(raw: &str) -> ApiResult<TenantId> {
    TenantId::parse(raw).map_err(|_| ServiceError::NotFound("tenant").into())
}

/// Tenants, oldest first: all of them for platform scopes, the token's
/// own for tenant scopes.
#[utoipa::path(operation_id = "list_tenants", get, path = "/tenants", tag = "tenants",
    params(Paging, TenantFilter),
    responses((status = 200, body = TenantPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    ApiQuery(paging): ApiQuery<Paging>,
    ApiQuery(filter): ApiQuery<TenantFilter>,
) -> ApiResult<Json<TenantPage>> {
    let search = filter.search.unwrap_or_default();
    let page =
        tenants::list_cursor(&caller.svc, &caller.actor, &search, &paging.request()?).await?;
    Ok(Json(page.into()))
}

/// Creates a tenant and provisions its data store.
#[utoipa::path(operation_id = "create_tenant", post, path = "/tenants", tag = "tenants", request_body = NewTenant,
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first result for 24 hours")),
    responses((status = 201, body = Tenant), (status = "4XX", body = Problem)))]
async fn create(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewTenant| async move { tenants::create_from(svc, actor, &new).await };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_tenant", get, path = "/tenants/{id}", tag = "tenants",
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = Tenant, headers(("ETag" = String))), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let tenant = tenants::get(&caller.svc, &caller.actor, &tenant_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, &tenant, tenant.revision))
}

/// Changes name, region or limits. Send the ETag you read as `If-Match`:
/// a stale one gets 412 instead of overwriting someone else's change.
#[utoipa::path(operation_id = "update_tenant", patch, path = "/tenants/{id}", tag = "tenants", request_body = TenantPatch,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Tenant), (status = 412, body = Problem), (status = "4XX", body = Problem)))]
async fn update(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let svc = &caller.svc;
    let id = tenant_id(&id)?;
    let patch: TenantPatch = body(&bytes)?;
    let expected = match if_match(&headers)? {
        Some(tags) => {
            let current = tenants::get(svc, &caller.actor, &id).await?.revision;
            expected_revision(Some(tags), current)
        }
        None => None,
    };
    let tenant = tenants::patch(svc, &caller.actor, &id, &patch, expected).await?;
    Ok(with_etag(StatusCode::OK, &tenant, tenant.revision))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteConfirm {
    /// The tenant's exact name: deleting erases its data store.
    pub confirm_name: String,
}

#[utoipa::path(operation_id = "delete_tenant", delete, path = "/tenants/{id}", tag = "tenants",
    params(("id" = String, Path), DeleteConfirm),
    responses((status = 204), (status = "4XX", body = Problem)))]
async fn delete(
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(confirm): ApiQuery<DeleteConfirm>,
) -> ApiResult<StatusCode> {
    let id = tenant_id(&id)?;
    tenants::delete(&caller.svc, &caller.actor, &id, &confirm.confirm_name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "suspend_tenant", post, path = "/tenants/{id}/suspend", tag = "tenants",
    params(("id" = String, Path)), responses((status = 200, body = Tenant), (status = "4XX", body = Problem)))]
async fn suspend(caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    set_status(&caller, &id, TenantStatus::Suspended).await
}

#[utoipa::path(operation_id = "resume_tenant", post, path = "/tenants/{id}/resume", tag = "tenants",
    params(("id" = String, Path)), responses((status = 200, body = Tenant), (status = "4XX", body = Problem)))]
async fn resume(caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    set_status(&caller, &id, TenantStatus::Active).await
}

async fn set_status(caller: &Caller, id: &str, status: TenantStatus) -> ApiResult<Response> {
    let id = tenant_id(id)?;
    let tenant = tenants::set_status(&caller.svc, &caller.actor, &id, status).await?;
    Ok(with_etag(StatusCode::OK, &tenant, tenant.revision))
}

/// Where the tenant's data lives and how much of it there is.
#[utoipa::path(operation_id = "get_tenant_data", get, path = "/tenants/{id}/data", tag = "tenants",
    params(("id" = String, Path)), responses((status = 200, body = TenantData), (status = "4XX", body = Problem)))]
async fn data(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<TenantData>> {
    let id = tenant_id(&id)?;
    Ok(Json(
        tenant_data::data(&caller.svc, &caller.actor, &id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct IsolationMove {
    pub isolation: IsolationLevel,
}

/// Moves the tenant's data to another isolation level, online.
#[utoipa::path(operation_id = "move_tenant_data", put, path = "/tenants/{id}/data", tag = "tenants", request_body = IsolationMove,
    params(("id" = String, Path)), responses((status = 200, body = MoveReport), (status = "4XX", body = Problem)))]
async fn move_isolation(
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<MoveReport>> {
    let id = tenant_id(&id)?;
    let to: IsolationMove = body(&bytes)?;
    let report = tenant_data::set_isolation(&caller.svc, &caller.actor, &id, to.isolation);
    Ok(Json(report.await?))
}

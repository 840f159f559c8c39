//! `/admin/v1/audit/…`: search (cursor paged, newest first), one event,
//! a streamed export (CSV or JSON, itself audited), and the keyed chains'
//! integrity as `atrium audit verify` reports it: every chain for platform
//! readers, the tenant's own for its admins.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::{ApiQuery, Paging};
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, AuditEventPage};
use crate::domain::audit::{AuditEvent, AuditQuery, ExportFormat};
use crate::server::services::audit_chain::{self, ChainCheck};
use crate::server::services::{audit, audit_export, audit_query};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(verify))
        .routes(routes!(search))
        .routes(routes!(show))
        .routes(routes!(export))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyScope {
    /// One tenant's chain; none: every chain (platform scopes).
    pub tenant: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    /// Whether every chain checked is intact.
    pub intact: bool,
    pub chains: Vec<ChainCheck>,
}

#[utoipa::path(get, path = "/audit/verify", tag = "audit", operation_id = "verify_audit",
    params(VerifyScope),
    responses((status = 200, body = Verification), (status = "4XX", body = Problem)))]
async fn verify(
    caller: Caller,
    ApiQuery(scope): ApiQuery<VerifyScope>,
) -> ApiResult<Json<Verification>> {
    let tenant = scope.tenant.as_deref().map(tenant_id).transpose()?;
    let chains = audit_chain::verify_for(&caller.svc, &caller.actor, tenant.as_ref()).await?;
    Ok(Json(Verification {
        intact: chains.iter().all(|c| c.broken.is_none()),
        chains,
    }))
}

/// Events newest first, filtered as the portal's audit page filters;
/// tenant-bound callers see only their tenant's.
#[utoipa::path(get, path = "/audit/events", tag = "audit", operation_id = "search_audit",
    params(Paging, AuditQuery),
    responses((status = 200, body = AuditEventPage), (status = "4XX", body = Problem)))]
async fn search(
    caller: Caller,
    ApiQuery(paging): ApiQuery<Paging>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditEventPage>> {
    let page = paging.request()?;
    let found = audit_query::search_cursor(&caller.svc, &caller.actor, &q, &page).await?;
    Ok(Json(found.into()))
}

#[utoipa::path(get, path = "/audit/events/{event_id}", tag = "audit", operation_id = "get_audit_event",
    params(("event_id" = String, Path)),
    responses((status = 200, body = AuditEvent), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<AuditEvent>> {
    Ok(Json(audit::get(&caller.svc, &caller.actor, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportRange {
    /// The tenant's chain; absent: the platform chain (platform admins).
    pub tenant_id: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC), inclusive; absent: the beginning.
    #[serde(default)]
    pub from: String,
    /// Last day, inclusive; absent: today.
    #[serde(default)]
    pub to: String,
    /// `csv` (the default) or `json`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// Every event of the range, oldest first, streamed; the export is
/// audited before the first byte goes out.
#[utoipa::path(get, path = "/audit/export", tag = "audit", operation_id = "export_audit",
    params(ExportRange),
    responses((status = 200, content_type = "text/csv", body = String), (status = "4XX", body = Problem)))]
async fn export(caller: Caller, ApiQuery(range): ApiQuery<ExportRange>) -> ApiResult<Response> {
    let tenant = range.tenant_id.as_deref().map(tenant_id).transpose()?;
    let format = range.format.unwrap_or(ExportFormat::Csv);
    let svc = &caller.svc;
    let rows = audit_export::export(
        svc,
        &caller.actor,
        tenant.as_ref(),
        &range.from,
        &range.to,
        format,
    )
    .await?;
    let body = Body::from_stream(rows.map(|chunk| chunk.map_err(std::io::Error::other)));
    let mut res = Response::new(body);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(res)
}

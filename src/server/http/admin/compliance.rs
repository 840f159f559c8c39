//! `/admin/v1/compliance/reports`: list a tenant's (or the platform's)
//! issued reports, generate one (signed and stored), and read one back
//! byte for byte as JSON, or its tables as CSV. And erasure (Art. 17):
//! a subject's data removed from a tenant, answered with a signed receipt.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::ApiQuery;
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, ReportPage};
use crate::domain::compliance::{Period, ReportKind};
use crate::domain::compliance_render;
use crate::server::services::compliance::{self, erasure, report, Request};
use crate::server::services::{tenants, ServiceError};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, generate))
        .routes(routes!(show))
        .routes(routes!(erase))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportScope {
    /// A tenant's reports; absent: the platform's (platform scopes).
    pub tenant_id: Option<String>,
}

/// Issued reports, newest first (at most 200).
#[utoipa::path(operation_id = "list_reports", get, path = "/compliance/reports", tag = "compliance",
    params(ReportScope),
    responses((status = 200, body = ReportPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    ApiQuery(scope): ApiQuery<ReportScope>,
) -> ApiResult<Json<ReportPage>> {
    let tenant = scope.tenant_id.as_deref().map(tenant_id).transpose()?;
    let data = report::list(&caller.svc, &caller.actor, tenant.as_ref()).await?;
    Ok(Json(ReportPage::from(data)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// `ropa`, `processor`, `access` or `soc2` (erasure receipts come from erasing).
    pub kind: ReportKind,
    /// The tenant; absent: the platform (processor and SOC 2 reports).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// First day, `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// For access reports: the subject's e-mail, phone or end-user id.
    #[serde(default)]
    pub subject: Option<String>,
}

/// Generates, signs and stores a report; answers the signed document.
#[utoipa::path(operation_id = "generate_report", post, path = "/compliance/reports", tag = "compliance", request_body = NewReport,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = serde_json::Value), (status = "4XX", body = Problem)))]
async fn generate(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |asked: NewReport| async move {
        let tenant = asked.tenant_id.as_deref().map(tenant_id).transpose()?;
        let period = Period::days(&asked.from, &asked.to).map_err(ServiceError::from)?;
        let req = Request {
            kind: asked.kind,
            tenant: tenant.as_ref(),
            period,
            subject: asked.subject.as_deref(),
        };
        Ok::<_, Problem>(compliance::generate(svc, actor, req).await?)
    };
    posted.create(&caller, make).await
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `json` (the signed document as stored, the default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

#[utoipa::path(operation_id = "get_report", get, path = "/compliance/reports/{report_id}", tag = "compliance",
    params(("report_id" = String, Path), ReportQuery),
    responses((status = 200, body = serde_json::Value), (status = "4XX", body = Problem)))]
async fn show(
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    let (_, document) = report::get(&caller.svc, &caller.actor, &id).await?;
    let (text, kind) = match q.format.unwrap_or_default() {
        ReportFormat::Json => (document, "application/json"),
        ReportFormat::Csv => {
            let doc: serde_json::Value = serde_json::from_str(&document)
                .map_err(|e| ServiceError::Internal(format!("stored report unreadable: {e}")))?;
            (compliance_render::csv(&doc), "text/csv; charset=utf-8")
        }
    };
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(res)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// The data subject: an e-mail, phone number or end-user id.
    pub subject: String,
}

/// Erases everything the tenant holds on the subject (request log, usage
/// end-user ids) and answers the signed, stored receipt. Cannot be undone.
#[utoipa::path(operation_id = "erase_subject", post, path = "/tenants/{id}/erasures", tag = "compliance", request_body = ErasureRequest,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = serde_json::Value), (status = "4XX", body = Problem)))]
async fn erase(caller: Caller, Path(id): Path<String>, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let id = tenant_id(&id)?;
    let tenant = tenants::get(svc, actor, &id).await?;
    let tenant = &tenant;
    let make =
        |r: ErasureRequest| async move { erasure::erase(svc, actor, tenant, &r.subject).await };
    posted.create(&caller, make).await
}

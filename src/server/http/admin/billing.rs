//! `/admin/v1/tenants/{id}/invoices` (list, show as JSON or CSV, issue)
//! and `/admin/v1/tenants/{id}/usage` (totals by model, and the ledger's
//! events as CloudEvents 1.0, paged by cursor for OpenMeter or Lago).

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::ApiQuery;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, InvoicePage};
use crate::domain::cursor::{self, MAX_LIMIT};
use crate::domain::invoice::{Invoice, Month};
use crate::domain::usage::UsageReport;
use crate::server::services::{invoices, usage, usage_export, ServiceError};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list_invoices))
        .routes(routes!(show_invoice))
        .routes(routes!(issue_invoice))
        .routes(routes!(usage_report))
        .routes(routes!(usage_events))
}

fn month(raw: &str) -> ApiResult<Month> {
    raw.parse::<Month>()
        .map_err(|e| ServiceError::from(e).into())
}

/// Issued invoices newest first, then the open months' drafts.
#[utoipa::path(operation_id = "list_invoices", get, path = "/tenants/{id}/invoices", tag = "billing",
    params(("id" = String, Path)),
    responses((status = 200, body = InvoicePage), (status = "4XX", body = Problem)))]
async fn list_invoices(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<InvoicePage>> {
    let data = invoices::list(&caller.svc, &caller.actor, &tenant_id(&id)?).await?;
    Ok(Json(InvoicePage::from(data)))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceFormat {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// `json` (the default) or `csv`.
    #[param(inline)]
    pub format: Option<InvoiceFormat>,
}

/// The month's invoice as issued, or its live draft.
#[utoipa::path(operation_id = "get_invoice", get, path = "/tenants/{id}/invoices/{month}", tag = "billing",
    params(("id" = String, Path), ("month" = String, Path, description = "YYYY-MM"), InvoiceQuery),
    responses((status = 200, body = Invoice), (status = "4XX", body = Problem)))]
async fn show_invoice(
    caller: Caller,
    Path((id, m)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> ApiResult<Response> {
    let (id, m) = (tenant_id(&id)?, month(&m)?);
    let inv = invoices::get(&caller.svc, &caller.actor, &id, m).await?;
    Ok(match q.format.unwrap_or_default() {
        InvoiceFormat::Json => Json(inv).into_response(),
        InvoiceFormat::Csv => {
            let mut res = inv.to_csv().into_response();
            let csv = HeaderValue::from_static("text/csv; charset=utf-8");
            res.headers_mut().insert(header::CONTENT_TYPE, csv);
            res
        }
    })
}

/// Issues a closed month's invoice (platform admins). Issuing twice
/// returns the invoice issued the first time.
#[utoipa::path(operation_id = "issue_invoice", post, path = "/tenants/{id}/invoices/{month}/issue", tag = "billing",
    params(("id" = String, Path), ("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = Invoice), (status = "4XX", body = Problem)))]
async fn issue_invoice(
    caller: Caller,
    Path((id, m)): Path<(String, String)>,
) -> ApiResult<Json<Invoice>> {
    let (id, m) = (tenant_id(&id)?, month(&m)?);
    Ok(Json(
        invoices::issue(&caller.svc, &caller.actor, &id, m).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// Milliseconds since the epoch, inclusive; absent: the beginning.
    pub from: Option<i64>,
    /// Milliseconds since the epoch, exclusive; absent: now.
    pub to: Option<i64>,
}

impl Period {
    fn bounds(&self) -> (i64, i64) {
        (self.from.unwrap_or(0), self.to.unwrap_or(i64::MAX))
    }
}

/// The tenant's totals over the period, and by model.
#[utoipa::path(operation_id = "usage_report", get, path = "/tenants/{id}/usage", tag = "billing",
    params(("id" = String, Path), Period),
    responses((status = 200, body = UsageReport), (status = "4XX", body = Problem)))]
async fn usage_report(
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<Period>,
) -> ApiResult<Json<UsageReport>> {
    let id = tenant_id(&id)?;
    let report = usage::report(&caller.svc, &caller.actor, &id, p.from, p.to);
    Ok(Json(report.await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventPaging {
    /// 1 to 200; default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A page of CloudEvents (structured JSON, `type` `io.atrium.<kind>`); the
/// event `id` is the request id, so a consumer that deduplicates counts a
/// re-export once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CloudEventPage {
    pub data: Vec<serde_json::Value>,
    pub next_cursor: Option<String>,
}

/// The ledger's events over the period as CloudEvents, in request-id order.
#[utoipa::path(operation_id = "usage_events", get, path = "/tenants/{id}/usage/events", tag = "billing",
    params(("id" = String, Path), Period, EventPaging),
    responses((status = 200, body = CloudEventPage), (status = "4XX", body = Problem)))]
async fn usage_events(
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<Period>,
    ApiQuery(paging): ApiQuery<EventPaging>,
) -> ApiResult<Json<CloudEventPage>> {
    let id = tenant_id(&id)?;
    let limit = paging.limit.unwrap_or(cursor::DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        ));
    }
    let after = match paging.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => cursor::decode(c).map_err(ServiceError::from)?.1,
        None => String::new(),
    };
    let svc = &caller.svc;
    let fetch = i64::from(limit) + 1;
    let mut events = usage_export::page(svc, &caller.actor, &id, p.bounds(), &after, fetch).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = (events.last())
        .filter(|_| more)
        .map(|e| cursor::encode(0, &e.request_id));
    Ok(Json(CloudEventPage {
        data: events.iter().map(|e| e.to_cloud_event()).collect(),
        next_cursor,
    }))
}

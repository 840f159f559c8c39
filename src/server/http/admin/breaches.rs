//! `/admin/v1/breaches`: the breach register (GDPR Art. 33 and 34) for a
//! tenant, or the platform's: list, record, read, and record what
//! happened next (the authority notified, a tenant informed, the Art. 34
//! decision). The rules are the service's, as in the portal and the CLI.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::compliance::ReportScope;
use super::conventions::ApiQuery;
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, BreachPage};
use crate::domain::breach::{Art34Decision, Breach, NewBreach};
use crate::domain::time::{now_millis, Millis};
use crate::server::services::compliance::breaches::{self, Step};
use crate::server::services::ServiceError;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, record))
        .routes(routes!(show))
        .routes(routes!(step))
}

/// Breaches newest first (at most 200).
#[utoipa::path(operation_id = "list_breaches", get, path = "/breaches", tag = "compliance",
    params(ReportScope),
    responses((status = 200, body = BreachPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    ApiQuery(scope): ApiQuery<ReportScope>,
) -> ApiResult<Json<BreachPage>> {
    let tenant = scope.tenant_id.as_deref().map(tenant_id).transpose()?;
    let data = breaches::list(&caller.svc, &caller.actor, tenant.as_ref()).await?;
    Ok(Json(BreachPage::from(data)))
}

/// A breach as reported: the facts (Art. 33(3)) and whose it is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BreachReport {
    /// The tenant it concerns; absent: the platform (platform admins).
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(flatten)]
    pub facts: NewBreach,
}

#[utoipa::path(operation_id = "record_breach", post, path = "/breaches", tag = "compliance", request_body = BreachReport,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Breach), (status = "4XX", body = Problem)))]
async fn record(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |r: BreachReport| async move {
        let tenant = r.tenant_id.as_deref().map(tenant_id).transpose()?;
        let facts = r.facts.checked(now_millis()).map_err(ServiceError::from)?;
        Ok::<_, Problem>(breaches::record(svc, actor, tenant.as_ref(), facts).await?)
    };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_breach", get, path = "/breaches/{breach_id}", tag = "compliance",
    params(("breach_id" = String, Path)),
    responses((status = 200, body = Breach), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Breach>> {
    Ok(Json(breaches::get(&caller.svc, &caller.actor, &id).await?))
}

/// One thing that happened after recording.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum BreachStep {
    /// The supervisory authority was notified at `at` (ms since the epoch).
    Notified {
        at: Millis,
        #[serde(default)]
        reference: Option<String>,
    },
    /// The operator informed this tenant, its controller (platform admins).
    Informed { tenant_id: String },
    /// Whether the data subjects are told (Art. 34), and why.
    Art34 {
        decision: Art34Decision,
        reason: String,
    },
}

#[utoipa::path(operation_id = "breach_step", post, path = "/breaches/{breach_id}/steps", tag = "compliance", request_body = BreachStep,
    params(("breach_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Breach), (status = "4XX", body = Problem)))]
async fn step(caller: Caller, Path(id): Path<String>, posted: Posted) -> ApiResult<Response> {
    let (svc, actor, id) = (&caller.svc, &caller.actor, &id);
    let make = |s: BreachStep| async move {
        let informed = match &s {
            BreachStep::Informed { tenant_id: t } => Some(tenant_id(t)?),
            _ => None,
        };
        let step = match (&s, informed.as_ref()) {
            (_, Some(t)) => Step::Informed(t),
            (BreachStep::Notified { at, reference }, _) => Step::Notified {
                at: *at,
                reference: reference.as_deref(),
            },
            (BreachStep::Art34 { decision, reason }, _) => Step::Art34(*decision, reason),
            (BreachStep::Informed { .. }, None) => {
                return Err(Problem::bad_request("tenant_id", "names no tenant"))
            }
        };
        Ok::<_, Problem>(breaches::step(svc, actor, id, step).await?)
    };
    posted.answering(StatusCode::OK).create(&caller, make).await
}

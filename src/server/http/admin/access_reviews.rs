//! `/admin/v1/access-reviews`: periodic reviews of who can reach a tenant
//! (or the platform), SOC 2 CC6.2–CC6.3: list, start, read, and attest an
//! item (keep it, or revoke it now: the user disabled, the key revoked).

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
use super::{AccessReviewPage, AdminState};
use crate::domain::access_review::{AccessReview, Decision, SubjectKind};
use crate::server::services::access_reviews;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(show))
        .routes(routes!(attest))
}

/// Reviews newest first (at most 100).
#[utoipa::path(operation_id = "list_access_reviews", get, path = "/access-reviews", tag = "compliance",
    params(ReportScope),
    responses((status = 200, body = AccessReviewPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    ApiQuery(scope): ApiQuery<ReportScope>,
) -> ApiResult<Json<AccessReviewPage>> {
    let tenant = scope.tenant_id.as_deref().map(tenant_id).transpose()?;
    let data = access_reviews::list(&caller.svc, &caller.actor, tenant.as_ref()).await?;
    Ok(Json(AccessReviewPage::from(data)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    /// The tenant whose users and keys are reviewed; absent: the platform's users.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// Starts a review listing everyone and every key that can reach the tenant.
#[utoipa::path(operation_id = "start_access_review", post, path = "/access-reviews", tag = "compliance", request_body = NewReview,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = AccessReview), (status = "4XX", body = Problem)))]
async fn start(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |r: NewReview| async move {
        let tenant = r.tenant_id.as_deref().map(tenant_id).transpose()?;
        Ok::<_, Problem>(access_reviews::start(svc, actor, tenant.as_ref()).await?)
    };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_access_review", get, path = "/access-reviews/{review_id}", tag = "compliance",
    params(("review_id" = String, Path)),
    responses((status = 200, body = AccessReview), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<AccessReview>> {
    Ok(Json(
        access_reviews::get(&caller.svc, &caller.actor, &id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub kind: SubjectKind,
    /// The user's or key's id, as the review lists it.
    pub id: String,
    pub decision: Decision,
}

/// Attests one item; `revoke` disables the user or revokes the key now.
/// The review closes with its last decision.
#[utoipa::path(operation_id = "attest_access_review", post, path = "/access-reviews/{review_id}/attest", tag = "compliance", request_body = Attestation,
    params(("review_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = AccessReview), (status = "4XX", body = Problem)))]
async fn attest(caller: Caller, Path(id): Path<String>, posted: Posted) -> ApiResult<Response> {
    let (svc, actor, id) = (&caller.svc, &caller.actor, &id);
    let make = |a: Attestation| async move {
        let item = (a.kind, a.id.as_str());
        access_reviews::attest(svc, actor, id, item, a.decision).await
    };
    posted.answering(StatusCode::OK).create(&caller, make).await
}

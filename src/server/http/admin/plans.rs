//! `/admin/v1/plans` (list, create, archive) and a tenant's subscription:
//! `PUT /admin/v1/tenants/{id}/plan` and its history.

use axum::extract::Path;
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
use super::{AdminState, PlanPage, SubscriptionPage};
use crate::domain::plan::{NewPlan, Plan};
use crate::server::services::plans::{self, Subscription};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(archive))
        .routes(routes!(subscribe, subscriptions))
}

#[utoipa::path(operation_id = "list_plans", get, path = "/plans", tag = "plans",
    responses((status = 200, body = PlanPage), (status = "4XX", body = Problem)))]
async fn list(caller: Caller) -> ApiResult<Json<PlanPage>> {
    let data = plans::list(&caller.svc, &caller.actor).await?;
    Ok(Json(PlanPage::from(data)))
}

#[utoipa::path(operation_id = "create_plan", post, path = "/plans", tag = "plans", request_body = NewPlan,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Plan), (status = "4XX", body = Problem)))]
async fn create(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewPlan| async move { plans::create(svc, actor, new).await };
    posted.create(&caller, make).await
}

/// Stops the plan taking new subscribers; tenants on it keep it.
#[utoipa::path(operation_id = "archive_plan", post, path = "/plans/{name}/archive", tag = "plans",
    params(("name" = String, Path)),
    responses((status = 200, body = Plan), (status = "4XX", body = Problem)))]
async fn archive(caller: Caller, Path(name): Path<String>) -> ApiResult<Json<Plan>> {
    Ok(Json(
        plans::archive(&caller.svc, &caller.actor, &name).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChoice {
    /// The plan's name.
    pub plan: String,
}

/// Puts the tenant on the plan from now on (the previous one ends).
#[utoipa::path(operation_id = "set_tenant_plan", put, path = "/tenants/{id}/plan", tag = "plans", request_body = PlanChoice,
    params(("id" = String, Path)),
    responses((status = 200, body = Subscription), (status = "4XX", body = Problem)))]
async fn subscribe(
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Subscription>> {
    let id = tenant_id(&id)?;
    let choice: PlanChoice = body(&bytes)?;
    let sub = plans::subscribe(&caller.svc, &caller.actor, &id, &choice.plan);
    Ok(Json(sub.await?))
}

/// The tenant's subscriptions, oldest first.
#[utoipa::path(operation_id = "tenant_plan_history", get, path = "/tenants/{id}/plan", tag = "plans",
    params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionPage), (status = "4XX", body = Problem)))]
async fn subscriptions(
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionPage>> {
    let data = plans::history(&caller.svc, &caller.actor, &tenant_id(&id)?).await?;
    Ok(Json(SubscriptionPage::from(data)))
}

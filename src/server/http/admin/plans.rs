//! `/admin/v1/plans` (list, create, archive) and a tenant's subscription:
//! `PUT /admin/v1/tenants/{id}/plan` and its history.

use axum::extract::{Path, State};
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
async fn list(State(state): State<AdminState>, caller: Caller) -> ApiResult<Json<PlanPage>> {
    let data = plans::list(&state.services, &caller.actor).await?;
    Ok(Json(PlanPage::from(data)))
}

#[utoipa::path(operation_id = "create_plan", post, path = "/plans", tag = "plans", request_body = NewPlan,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Plan), (status = "4XX", body = Problem)))]
async fn create(
    State(state): State<AdminState>,
    caller: Caller,
    posted: Posted,
) -> ApiResult<Response> {
    let (svc, actor) = (&state.services, &caller.actor);
    let make = |new: NewPlan| async move { plans::create(svc, actor, new).await };
    posted.create(svc, &caller, make).await
}

/// Stops the plan taking new subscribers; tenants on it keep it.
#[utoipa::path(operation_id = "archive_plan", post, path = "/plans/{name}/archive", tag = "plans",
    params(("name" = String, Path)),
    responses((status = 200, body = Plan), (status = "4XX", body = Problem)))]
async fn archive(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Plan>> {
    Ok(Json(
        plans::archive(&state.services, &caller.actor, &name).await?,
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
    State(state): State<AdminState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Subscription>> {
    let id = tenant_id(&id)?;
    let choice: PlanChoice = body(&bytes)?;
    let sub = plans::subscribe(&state.services, &caller.actor, &id, &choice.plan);
    Ok(Json(sub.await?))
}

/// The tenant's subscriptions, oldest first.
#[utoipa::path(operation_id = "tenant_plan_history", get, path = "/tenants/{id}/plan", tag = "plans",
    params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionPage), (status = "4XX", body = Problem)))]
async fn subscriptions(
    State(state): State<AdminState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionPage>> {
    let data = plans::history(&state.services, &caller.actor, &tenant_id(&id)?).await?;
    Ok(Json(SubscriptionPage::from(data)))
}

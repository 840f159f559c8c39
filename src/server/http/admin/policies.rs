//! `/admin/v1/policies`: data-policy rules of a tenant or the platform
//! default: list, add, read, change, remove, and try a text against them.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::{body, ApiQuery};
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, PolicyPage};
use crate::domain::policy::{Direction, NewPolicy, PolicyChange, PolicyRule, Trial};
use crate::server::services::policies;

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(try_text))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PolicyScope {
    /// The tenant whose rules to list; absent: the platform default.
    pub tenant_id: Option<String>,
}

/// A tenant's own rules, or the platform default's (for tenants without any).
#[utoipa::path(operation_id = "list_policies", get, path = "/policies", tag = "policies",
    params(PolicyScope),
    responses((status = 200, body = PolicyPage), (status = "4XX", body = Problem)))]
async fn list(
    caller: Caller,
    ApiQuery(scope): ApiQuery<PolicyScope>,
) -> ApiResult<Json<PolicyPage>> {
    let tenant = scope.tenant_id.as_deref().map(tenant_id).transpose()?;
    let data = policies::list(&caller.svc, &caller.actor, tenant.as_ref()).await?;
    Ok(Json(PolicyPage::from(data)))
}

#[utoipa::path(operation_id = "create_policy", post, path = "/policies", tag = "policies", request_body = NewPolicy,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PolicyRule), (status = "4XX", body = Problem)))]
async fn create(caller: Caller, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let make = |new: NewPolicy| async move {
        let tenant = new.tenant_id.as_ref();
        policies::add(svc, actor, tenant, new.target, new.action, new.direction).await
    };
    posted.create(&caller, make).await
}

#[utoipa::path(operation_id = "get_policy", get, path = "/policies/{policy_id}", tag = "policies",
    params(("policy_id" = String, Path)),
    responses((status = 200, body = PolicyRule), (status = "4XX", body = Problem)))]
async fn show(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<PolicyRule>> {
    Ok(Json(policies::get(&caller.svc, &caller.actor, &id).await?))
}

/// Changes the rule's target, action or direction; its id stays.
#[utoipa::path(operation_id = "update_policy", patch, path = "/policies/{policy_id}", tag = "policies", request_body = PolicyChange,
    params(("policy_id" = String, Path)),
    responses((status = 200, body = PolicyRule), (status = "4XX", body = Problem)))]
async fn update(
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<PolicyRule>> {
    let change: PolicyChange = body(&bytes)?;
    let updated = policies::update(&caller.svc, &caller.actor, &id, &change);
    Ok(Json(updated.await?))
}

#[utoipa::path(operation_id = "remove_policy", delete, path = "/policies/{policy_id}", tag = "policies",
    params(("policy_id" = String, Path)),
    responses((status = 204), (status = "4XX", body = Problem)))]
async fn remove(caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    policies::remove(&caller.svc, &caller.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryText {
    /// Whose rules apply; absent: the platform default.
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub text: String,
    #[serde(default = "prompt")]
    pub direction: Direction,
}

fn prompt() -> Direction {
    Direction::Prompt
}

/// What the gateway would find and do with this text; nothing is stored.
#[utoipa::path(operation_id = "try_policies", post, path = "/policies/try", tag = "policies", request_body = TryText,
    responses((status = 200, body = Trial), (status = "4XX", body = Problem)))]
async fn try_text(caller: Caller, bytes: Bytes) -> ApiResult<Json<Trial>> {
    let asked: TryText = body(&bytes)?;
    let tenant = asked.tenant_id.as_deref().map(tenant_id).transpose()?;
    let svc = &caller.svc;
    let trial = policies::try_text(
        svc,
        &caller.actor,
        tenant.as_ref(),
        &asked.text,
        asked.direction,
    );
    Ok(Json(trial.await?))
}

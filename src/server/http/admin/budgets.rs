//! `/admin/v1/tenants/{id}/budgets`: a tenant's (and its keys') spending
//! limits: list, set (create or replace) and remove.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::ApiQuery;
use super::posted::Posted;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::{AdminState, BudgetPage};
use crate::domain::budget::{Budget, BudgetSpec, Enforcement};
use crate::server::services::{budgets, ServiceError};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new().routes(routes!(list, set, remove))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetBudgetAnswer {
    pub budget: Budget,
    /// The webhook's signing secret, only when this call created it.
    pub webhook_secret: Option<String>,
}

/// Every budget of the tenant, tenant-wide first (one page).
#[utoipa::path(operation_id = "list_budgets", get, path = "/tenants/{id}/budgets", tag = "budgets",
    params(("id" = String, Path)),
    responses((status = 200, body = BudgetPage), (status = "4XX", body = Problem)))]
async fn list(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<BudgetPage>> {
    let id = tenant_id(&id)?;
    let data = budgets::list(&caller.svc, &caller.actor, &id).await?;
    Ok(Json(BudgetPage::from(data)))
}

/// Sets the tenant's (or one key's) budget of that enforcement, replacing
/// the one there was.
#[utoipa::path(operation_id = "set_budget", put, path = "/tenants/{id}/budgets", tag = "budgets", request_body = BudgetSpec,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = SetBudgetAnswer), (status = "4XX", body = Problem)))]
async fn set(caller: Caller, Path(id): Path<String>, posted: Posted) -> ApiResult<Response> {
    let (svc, actor) = (&caller.svc, &caller.actor);
    let id = tenant_id(&id)?;
    let make = |mut spec: BudgetSpec| async move {
        spec.tenant = id.to_string();
        let set = budgets::set(svc, actor, spec).await?;
        Ok::<_, ServiceError>(SetBudgetAnswer {
            budget: set.budget,
            webhook_secret: set.webhook_secret,
        })
    };
    posted.answering(StatusCode::OK).create(&caller, make).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BudgetSelector {
    pub enforcement: Enforcement,
    /// A key's id or name; none: the tenant-wide budget.
    pub api_key: Option<String>,
}

#[utoipa::path(operation_id = "remove_budget", delete, path = "/tenants/{id}/budgets", tag = "budgets",
    params(("id" = String, Path), BudgetSelector),
    responses((status = 200, body = Budget), (status = "4XX", body = Problem)))]
async fn remove(
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(which): ApiQuery<BudgetSelector>,
) -> ApiResult<Json<Budget>> {
    let id = tenant_id(&id)?;
    let key = which.api_key.as_deref();
    let removed = budgets::remove(&caller.svc, &caller.actor, &id, key, which.enforcement);
    Ok(Json(removed.await?))
}

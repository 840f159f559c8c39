//! `/admin/v1/audit/verify`: the keyed chains' integrity, as `atrium audit
//! verify` reports it: every chain for platform readers, the tenant's own
//! for its admins.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::Caller;
use super::conventions::ApiQuery;
use super::problem::{ApiResult, Problem};
use super::tenants::tenant_id;
use super::AdminState;
use crate::server::services::audit_chain::{self, ChainCheck};

pub fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new().routes(routes!(verify))
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
    State(state): State<AdminState>,
    caller: Caller,
    ApiQuery(scope): ApiQuery<VerifyScope>,
) -> ApiResult<Json<Verification>> {
    let tenant = scope.tenant.as_deref().map(tenant_id).transpose()?;
    let chains = audit_chain::verify_for(&state.services, &caller.actor, tenant.as_ref()).await?;
    Ok(Json(Verification {
        intact: chains.iter().all(|c| c.broken.is_none()),
        chains,
    }))
}

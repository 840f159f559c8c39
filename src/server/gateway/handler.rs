//! The completion API's HTTP handlers and the one path every completion
//! takes (DESIGN §1): authenticate → admit → parse and reserve tokens →
//! govern → route → call → respond, with a `Settlement` accounting for it however it ends.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::answer::Called;
use super::budget::Hold;
use super::dialect::Dialect;
use super::error::GatewayError;
use super::settle::Settlement;
use super::{authenticate, forward, govern, route, streamed, upstream, whole, Gateway};
use crate::domain::budget::{worst_case, Enforcement, UNBOUNDED_OUTPUT_CAP};
use crate::domain::completion::CompletionRequest;
use crate::domain::flag::Capability;
use crate::domain::pricing::Price;
use crate::domain::time::{now_millis, rfc3339};
use crate::server::request_id::RequestId;
use crate::server::services::api_keys::Authenticated;
use crate::server::services::custom_models::{self, routes::CustomRoute};
use crate::server::services::{self, catalog, flags};

pub async fn messages(State(gw): State<Gateway>, req: Request) -> Response {
    detached(gw, Dialect::Anthropic, req).await
}

pub async fn chat_completions(State(gw): State<Gateway>, req: Request) -> Response {
    detached(gw, Dialect::OpenAi, req).await
}

/// Runs the request in a task of its own, so a client that hangs up while
/// the provider works does not cancel it: the provider bills the answer it
/// generates, so the answer is awaited and settled at its real usage (a
/// stream's body is covered by its `Relay` instead).
async fn detached(gw: Gateway, dialect: Dialect, req: Request) -> Response {
    use tracing::Instrument;
    let task = complete(gw, dialect, req).instrument(tracing::Span::current());
    match tokio::spawn(task).await {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "a completion task failed");
            GatewayError::Internal("the request failed".into()).into_dialect(dialect, "")
        }
    }
}

/// `GET /v1/models`: one shape both SDKs read.
pub async fn models(
    State(gw): State<Gateway>,
    request_id: RequestId,
    headers: HeaderMap,
) -> Response {
    let dialect = if headers.contains_key("x-api-key") || headers.contains_key("anthropic-version")
    {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    };
    match authenticate::key(&gw, &headers).await {
        Ok(auth) => axum::Json(model_list(&gw, &auth)).into_response(),
        Err(e) => e.into_dialect(dialect, &request_id.0),
    }
}

fn model_list(gw: &Gateway, auth: &Authenticated) -> Value {
    let cat = catalog::snapshot(&gw.svc);
    let data: Vec<Value> = cat
        .visible_to(&auth.tenant.id, &auth.tenant.data_location)
        .into_iter()
        .map(|name| {
            let created = cat.resolve(&auth.tenant.id, &name).map_or(0, |m| m.created_at);
            json!({ "id": name, "object": "model", "type": "model", "display_name": name,
                    "created": created / 1000, "created_at": rfc3339(created), "owned_by": "atrium" })
        })
        .collect();
    let first = data.first().and_then(|m| m.get("id")).cloned();
    let last = data.last().and_then(|m| m.get("id")).cloned();
    json!({ "object": "list", "data": data, "has_more": false, "first_id": first, "last_id": last })
}

/// The request's own span is the HTTP layer's (`request_id`, `tenant_id`);
/// this one, at debug level, adds the dialect for step-by-step tracing.
#[tracing::instrument(name = "completion", level = "debug", skip_all,
    fields(dialect = %dialect, tenant_id = tracing::field::Empty))]
async fn complete(gw: Gateway, dialect: Dialect, req: Request) -> Response {
    let mut settle = Settlement::new(&gw, dialect, request_id(&req));
    match call(&gw, &mut settle, req).await {
        Ok(called) if called.request.stream => streamed::respond(&gw, settle, called).await,
        Ok(called) => whole::respond(&gw, settle, called).await,
        Err(e) => settle.refuse(e).await,
    }
}

fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(RequestId::fresh_string)
}

/// Every step up to the provider's answer, recording on `settle` what
/// each one learns.
async fn call(gw: &Gateway, settle: &mut Settlement, req: Request) -> Result<Called, GatewayError> {
    let (parts, body) = req.into_parts();
    let auth = authenticate::key(gw, &parts.headers).await?;
    settle.authenticated(auth.clone());
    gw.limiter.admit(&auth.tenant).await?;
    if !is_json(&parts.headers) {
        return Err(GatewayError::Invalid(
            "content-type: must be application/json".into(),
        ));
    }
    let limit = gw.svc.config.max_body_bytes;
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| GatewayError::TooLarge(limit))?;
    let mut request = CompletionRequest::parse(settle.dialect(), &bytes)?;
    settle.requested(&request.model, request.stream, request.end_user());
    settle.log(auth.tenant.request_log.mode);
    if request.stream
        && !flags::capability(&gw.svc, Capability::GatewayStreaming, &auth.flag_context)?
    {
        return Err(GatewayError::Forbidden(
            "streaming is not enabled for this tenant; send \"stream\": false".into(),
        ));
    }
    let estimate = request.estimate_tokens();
    let rate = gw.limiter.reserve(&auth.tenant, estimate).await?;
    settle.reserved(estimate);
    let governed = govern_prompt(gw, &auth, settle, &mut request, bytes.len()).await?;
    settle.governed(governed.action, governed.classification, governed.entities);
    settle.log_subjects(&governed.subjects);
    if let Some(refusal) = governed.refusal {
        return Err(refusal);
    }
    let cat = catalog::snapshot(&gw.svc);
    let mut route = route::resolve(&cat, &auth, &request.model)?;
    let deprecation = match route.custom.clone() {
        Some(custom) => {
            custom_route(gw, &auth, &mut route, &custom).await?;
            custom.deprecated_until
        }
        None => None,
    };
    // The ledger names the model the request resolved to (a custom model's
    // `name:version`), never an alias: invoices price and mark up each row
    // by that name, and an alias moved later must not move past usage.
    settle.record_as(&route.model.name);
    // Server-side tools are refused unless the model allows them, and then
    // bounded (`max_uses`) so the hold below covers every use.
    request.bound_server_tools(route.model.server_tools)?;
    let price = *route.model.prices.at(now_millis()).ok_or_else(|| {
        GatewayError::Internal(format!("model {} has no price in force", route.model.name))
    })?;
    // Metrics name a custom model by its base model: its `name:version`
    // is the tenant's to choose and would mint label values.
    let label = route
        .custom
        .as_ref()
        .map_or(&route.model.name, |c| &c.base_model);
    settle.routed(label, price);
    let price = price.price;
    let hold = hold_budgets(gw, &auth, &mut request, &price, settle.request_id()).await?;
    settle.held(hold);
    settle.log_prompt(&request.body);
    let version = parts
        .headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok());
    let answer = upstream::call(&gw.http, &cat, &route, version, |d| {
        forward::body_for(&request, d)
    })
    .await?;
    settle.called(
        &answer.provider().name,
        &answer.provider().region,
        request.input_estimate(),
    );
    metrics::histogram!("atrium_upstream_seconds", "provider" => answer.provider().name.clone())
        .record(answer.upstream_latency.as_secs_f64());
    Ok(Called {
        auth,
        request,
        answer,
        rate,
        deprecation,
    })
}

/// A custom model: the `models.custom` flag lets the tenant call it, an
/// engine that has the adapter loaded goes first, and a full pool loads it
/// on demand (evicting the least recently used) when none has it.
async fn custom_route(
    gw: &Gateway,
    auth: &Authenticated,
    route: &mut route::Route,
    custom: &CustomRoute,
) -> Result<(), GatewayError> {
    if !custom_models::routes::allowed(&gw.svc, &auth.flag_context)? {
        return Err(GatewayError::Forbidden(
            "custom models are not enabled for this tenant".into(),
        ));
    }
    custom_models::reconcile::ensure_resident(&gw.svc, &custom.engine_name, &custom.base_model)
        .await
        .map_err(|e| {
            tracing::warn!(error = ?e, "loading an adapter on demand failed");
            GatewayError::UpstreamUnavailable
        })?;
    route.prefer(&gw.svc.pools.holding(&custom.engine_name));
    Ok(())
}

/// Holds the request's worst-case cost against the budgets that apply. A
/// hard budget needs an output bound: one is written into the body when
/// the client set none.
async fn hold_budgets(
    gw: &Gateway,
    auth: &Authenticated,
    request: &mut CompletionRequest,
    price: &Price,
    request_id: &str,
) -> Result<Hold, GatewayError> {
    if gw.svc.budgets.is_empty() {
        return Ok(Hold::default());
    }
    let budgets = gw.svc.budgets.applying(&auth.tenant.id, &auth.api_key.id);
    if budgets.is_empty() {
        return Ok(Hold::default());
    }
    let hard = budgets.iter().any(|b| b.enforcement == Enforcement::Hard);
    let max_output = if hard {
        request.bound_output(UNBOUNDED_OUTPUT_CAP)
    } else {
        0
    };
    let worst = worst_case(price, &request.exposure(max_output));
    gw.budgets
        .reserve(&gw.svc, budgets, request_id, worst)
        .await
}

/// Both dialects are JSON; a form post or plain text is refused, not guessed at.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Step 3 on the request's body; a large body is scanned off the async
/// workers (`services::cpu_bound`), so it cannot stall other tenants.
async fn govern_prompt(
    gw: &Gateway,
    auth: &Authenticated,
    settle: &Settlement,
    request: &mut CompletionRequest,
    size: usize,
) -> Result<govern::Governed, GatewayError> {
    let mut body = std::mem::take(&mut request.body);
    let (g, tenant_id) = (gw.clone(), auth.tenant.id.clone());
    let (request_id, collect) = (settle.request_id().to_string(), settle.logging());
    let (body, mut governed) = services::cpu_bound(size, move || {
        let governed = govern::prompt(&g, &tenant_id, &request_id, &mut body, collect);
        (body, governed)
    })
    .await?;
    request.body = body;
    request.grew(governed.grown);
    govern::record(gw, governed.audit.take()).await;
    Ok(governed)
}

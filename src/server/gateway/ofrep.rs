//! The OpenFeature Remote Evaluation Protocol (OFREP) for tenants' own
//! flags: `POST /ofrep/v1/evaluate/flags/{key}` and the bulk
//! `POST /ofrep/v1/evaluate/flags` (with an ETag), authenticated by the
//! tenant's API key and counted against its requests per minute. An
//! off-the-shelf OpenFeature OFREP provider works against it unchanged.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use std::time::Instant;

use super::budget::Hold;
use super::error::GatewayError;
use super::{authenticate, Gateway};
use crate::domain::completion::ErrorKind;
use crate::domain::flag::Context;
use crate::domain::pii::Classification;
use crate::domain::policy::Action;
use crate::domain::pricing::units_cost;
use crate::domain::time::now_millis;
use crate::domain::usage::{UsageEvent, UsageKind};
use crate::server::request_id::RequestId;
use crate::server::services::api_keys::Authenticated;
use crate::server::services::flags::{self, EvalError, Evaluated};

/// A context is small; anything larger is refused before it is parsed.
const MAX_BODY: usize = 64 * 1024;
const MAX_ATTRIBUTES: usize = 256;

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Authentication and rate-limit failures, in OFREP's terms.
fn refused(e: GatewayError) -> Response {
    let mut res = reply(e.status(), json!({ "errorDetails": e.to_string() }));
    if let GatewayError::RateLimited { retry_after_s, .. } = e {
        if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

/// The caller's tenant, with one request taken from its limits.
async fn admit(
    gw: &Gateway,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<Authenticated>, Response> {
    let auth = authenticate::key(gw, headers).await.map_err(refused)?;
    gw.limiter
        .admit(&auth.tenant)
        .await
        .map_err(|d| refused(d.into()))?;
    Ok(auth)
}

/// `{"context": {...}}`; an absent body is an empty context.
async fn context(req: Request) -> Result<Context, (&'static str, String)> {
    let bytes = to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| ("PARSE_ERROR", format!("the body is over {MAX_BODY} bytes")))?;
    if bytes.is_empty() {
        return Ok(Context::default());
    }
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| ("PARSE_ERROR", e.to_string()))?;
    let ctx = match body.get("context") {
        None | Some(Value::Null) => return Ok(Context::default()),
        Some(Value::Object(map)) if map.len() > MAX_ATTRIBUTES => {
            return Err((
                "INVALID_CONTEXT",
                format!("at most {MAX_ATTRIBUTES} attributes"),
            ));
        }
        Some(c @ Value::Object(_)) => c.clone(),
        Some(_) => return Err(("INVALID_CONTEXT", "context must be an object".into())),
    };
    serde_json::from_value(ctx).map_err(|e| ("INVALID_CONTEXT", e.to_string()))
}

/// Evaluations are usage of their own kind: one ledger row per request,
/// counting the flags it evaluated (never tokens), so billing can price
/// them. Priced evaluations are held against hard budgets like
/// completions: evaluation is pure, so the count is known before the
/// answer leaves, and a request a hard budget cannot cover is refused.
struct Meter {
    request_id: String,
    started: Instant,
    /// The price of one evaluation in force when the request came.
    price: i64,
    /// When that price took effect, for the ledger row.
    price_from: Option<i64>,
    created_at: i64,
}

impl Meter {
    fn new(gw: &Gateway, req: &Request) -> Meter {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map_or_else(RequestId::fresh_string, |id| id.0.clone());
        let created_at = now_millis();
        let version = crate::server::services::catalog::snapshot(&gw.svc)
            .evaluation_prices
            .at(created_at)
            .copied();
        Meter {
            request_id,
            started: Instant::now(),
            price: version.map_or(0, |v| v.price),
            price_from: version.map(|v| v.effective_from),
            created_at,
        }
    }

    /// Holds what `units` evaluations cost against the budgets that apply.
    async fn hold(
        &self,
        gw: &Gateway,
        auth: &Authenticated,
        units: usize,
    ) -> Result<Hold, GatewayError> {
        let worst = units_cost(units as i64, self.price);
        if worst == 0 || gw.svc.budgets.is_empty() {
            return Ok(Hold::default());
        }
        let budgets = gw.svc.budgets.applying(&auth.tenant.id, &auth.api_key.id);
        if budgets.is_empty() {
            return Ok(Hold::default());
        }
        gw.budgets
            .reserve(&gw.svc, budgets, &self.request_id, worst)
            .await
    }

    /// Answers `res` for `units` evaluations once they are held, or the
    /// budget's refusal; records either in the ledger.
    async fn charge(
        self,
        gw: &Gateway,
        auth: &Authenticated,
        units: usize,
        res: Response,
    ) -> Response {
        match self.hold(gw, auth, units).await {
            Ok(hold) => {
                let cost = units_cost(units as i64, self.price);
                let res = self.record(gw, auth, units, res, None).await;
                gw.budgets.settle(&gw.svc, hold, cost);
                res
            }
            Err(e) => {
                let kind = e.kind();
                self.record(gw, auth, 0, refused(e), Some(kind)).await
            }
        }
    }

    async fn record(
        self,
        gw: &Gateway,
        auth: &Authenticated,
        units: usize,
        res: Response,
        error_type: Option<ErrorKind>,
    ) -> Response {
        let event = UsageEvent {
            request_id: self.request_id,
            tenant_id: auth.tenant.id.clone(),
            api_key_id: Some(auth.api_key.id.clone()),
            kind: UsageKind::FlagEvaluation,
            units: units as i64,
            model: "-".into(),
            provider: None,
            dialect: None,
            stream: false,
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            cost_micros: units_cost(units as i64, self.price),
            latency_ms: self.started.elapsed().as_millis() as i64,
            status: res.status().as_u16(),
            error_type,
            created_at: self.created_at,
            policy_action: Action::Allow,
            classification: Classification::Public,
            price_from: self.price_from,
            pii_classes: Default::default(),
            provider_region: None,
            end_user: None,
            log: None,
        };
        gw.ledger.push(event).await;
        res
    }
}

fn success(e: &Evaluated) -> Value {
    json!({ "key": e.key, "value": e.value, "reason": e.reason, "variant": e.variant, "metadata": {} })
}

fn failure(key: &str, e: EvalError) -> Value {
    json!({ "key": key, "errorCode": e.code(), "errorDetails": e.details() })
}

pub async fn evaluate_one(
    State(gw): State<Gateway>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let auth = match admit(&gw, req.headers()).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let meter = Meter::new(&gw, &req);
    let ctx = match context(req).await {
        Ok(c) => c,
        Err((code, details)) => {
            let body = json!({ "key": key, "errorCode": code, "errorDetails": details });
            return meter
                .record(&gw, &auth, 0, reply(StatusCode::BAD_REQUEST, body), None)
                .await;
        }
    };
    let (units, res) = match flags::tenant_flag(&gw.svc, &auth.tenant.id, &key, &ctx) {
        Ok(e) => (1, reply(StatusCode::OK, success(&e))),
        Err(e @ EvalError::NotFound) => (0, reply(StatusCode::NOT_FOUND, failure(&key, e))),
        Err(e) => (1, reply(StatusCode::BAD_REQUEST, failure(&key, e))),
    };
    meter.charge(&gw, &auth, units, res).await
}

pub async fn evaluate_all(State(gw): State<Gateway>, req: Request) -> Response {
    let auth = match admit(&gw, req.headers()).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let meter = Meter::new(&gw, &req);
    let unchanged = req.headers().get(header::IF_NONE_MATCH).cloned();
    let ctx = match context(req).await {
        Ok(c) => c,
        Err((code, details)) => {
            let body = json!({ "errorCode": code, "errorDetails": details });
            return meter
                .record(&gw, &auth, 0, reply(StatusCode::BAD_REQUEST, body), None)
                .await;
        }
    };
    let results = flags::tenant_flags(&gw.svc, &auth.tenant.id, &ctx);
    let res = bulk(&results, unchanged.as_ref());
    meter.charge(&gw, &auth, results.len(), res).await
}

/// The bulk answer, or 304 when the caller's ETag still holds.
fn bulk(
    results: &[(String, Result<Evaluated, EvalError>)],
    unchanged: Option<&HeaderValue>,
) -> Response {
    let items: Vec<Value> = results
        .iter()
        .map(|(key, r)| r.as_ref().map_or_else(|e| failure(key, *e), success))
        .collect();
    let body = json!({ "flags": items }).to_string();
    // The body for this context is the version: same flags, same answers.
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    if unchanged
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        set_etag(&mut res, &etag);
        return res;
    }
    let mut res = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response();
    set_etag(&mut res, &etag);
    res
}

fn set_etag(res: &mut Response, etag: &str) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
}

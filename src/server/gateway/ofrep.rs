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

use super::error::GatewayError;
use super::{authenticate, Gateway};
use crate::domain::flag::Context;
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
    let ctx = match context(req).await {
        Ok(c) => c,
        Err((code, details)) => {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({ "key": key, "errorCode": code, "errorDetails": details }),
            );
        }
    };
    match flags::tenant_flag(&gw.svc, &auth.tenant.id, &key, &ctx) {
        Ok(e) => reply(StatusCode::OK, success(&e)),
        Err(e @ EvalError::NotFound) => reply(StatusCode::NOT_FOUND, failure(&key, e)),
        Err(e) => reply(StatusCode::BAD_REQUEST, failure(&key, e)),
    }
}

pub async fn evaluate_all(State(gw): State<Gateway>, req: Request) -> Response {
    let auth = match admit(&gw, req.headers()).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let unchanged = req.headers().get(header::IF_NONE_MATCH).cloned();
    let ctx = match context(req).await {
        Ok(c) => c,
        Err((code, details)) => {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({ "errorCode": code, "errorDetails": details }),
            );
        }
    };
    let results = flags::tenant_flags(&gw.svc, &auth.tenant.id, &ctx);
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
        .as_ref()
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

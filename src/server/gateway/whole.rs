//! A non-streamed answer: read the provider's body (by the end of the
//! provider's timeout, counted from the call), convert it to the client's dialect, apply response rules,
//! settle, and answer with the rate-limit headers.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::value::RawValue;
use serde_json::Value;

use super::answer::{deprecation_headers, finish_headers, Called};
use super::dialect::Dialect;
use super::error::GatewayError;
use super::settle::Settlement;
use super::translate::{response, usage};
use super::{govern, Gateway};
use crate::domain::pricing::TokenCounts;

/// The largest answer read from a provider: far above any model's output
/// (a million tokens of JSON), so a broken or hostile endpoint cannot make
/// the gateway buffer without end.
const ANSWER_LIMIT: usize = 64 << 20;

pub async fn respond(gw: &Gateway, mut settle: Settlement, called: Called) -> Response {
    let provider = Dialect::of(called.answer.provider().kind);
    let deadline = called.answer.deadline;
    let body = Limited::new(called.answer.response.into_body(), ANSWER_LIMIT).collect();
    let bytes = match tokio::time::timeout_at(deadline, body).await {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) => {
            if e.is::<LengthLimitError>() {
                tracing::warn!(provider = %called.answer.entry.provider.name,
                    "a provider's answer passed {ANSWER_LIMIT} bytes");
            }
            return settle.refuse(GatewayError::UpstreamUnavailable).await;
        }
        Err(_) => return settle.refuse(GatewayError::UpstreamTimeout).await,
    };
    let Some((out, tokens)) = convert(settle.dialect(), provider, &bytes, settle.model()) else {
        return settle.refuse(GatewayError::UpstreamUnavailable).await;
    };
    settle.used(tokens);
    let out = match govern::response(gw, &called.auth, settle.request_id(), out).await {
        Ok(out) => out,
        Err(e) => return settle.refuse(e).await,
    };
    if settle.logging() {
        settle.log_response(&String::from_utf8_lossy(&out));
    }
    let mut res = Response::new(Body::from(out));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    finish_headers(
        &mut res,
        settle.dialect(),
        &called.rate,
        settle.request_id(),
    );
    deprecation_headers(&mut res, called.deprecation);
    settle.finish(200, None).await;
    res
}

/// The client's body and the usage it reports. When the dialects match, the
/// top level is split into raw values so the body passes through without
/// being rebuilt; only `model` is renamed to what the client asked for.
fn convert(
    client: Dialect,
    provider: Dialect,
    bytes: &[u8],
    model: &str,
) -> Option<(Vec<u8>, TokenCounts)> {
    let read_usage = |u: &Value| match provider {
        Dialect::Anthropic => usage::from_anthropic(u),
        Dialect::OpenAi => usage::from_openai(u),
    };
    if client == provider {
        let mut top: HashMap<String, Box<RawValue>> = serde_json::from_slice(bytes).ok()?;
        let tokens = top
            .get("usage")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .map(|u| read_usage(&u))
            .unwrap_or_default();
        if top.contains_key("model") {
            top.insert("model".into(), serde_json::value::to_raw_value(model).ok()?);
        }
        return Some((serde_json::to_vec(&top).ok()?, tokens));
    }
    let upstream: Value = serde_json::from_slice(bytes).ok()?;
    let tokens = read_usage(upstream.get("usage").unwrap_or(&Value::Null));
    let out = match client {
        Dialect::Anthropic => response::openai_to_anthropic(&upstream, model),
        Dialect::OpenAi => response::anthropic_to_openai(&upstream, model),
    };
    Some((serde_json::to_vec(&out).ok()?, tokens))
}

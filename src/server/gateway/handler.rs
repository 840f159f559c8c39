//! The HTTP handlers and the pipeline every completion follows.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};

use super::dialect::{rate_headers, Dialect, RateInfo};
use super::error::GatewayError;
use super::sse::{encode, SseParser};
use super::translate::stream::{
    AnthropicPassthrough, AnthropicToOpenAi, OpenAiPassthrough, OpenAiToAnthropic, StreamTranslator,
};
use super::translate::{request, response, usage};
use super::{govern, upstream, Gateway};
use crate::domain::catalog::{Deployment, Model};
use crate::domain::pii::Classification;
use crate::domain::policy::Action;
use crate::domain::pricing::{cost, TokenCounts};
use crate::domain::time::{now_millis, rfc3339};
use crate::domain::usage::UsageEvent;
use crate::server::services::api_keys::{self, AuthError, Authenticated};
use crate::server::services::catalog;

pub async fn messages(State(gw): State<Gateway>, req: Request) -> Response {
    complete(gw, Dialect::Anthropic, req).await
}

pub async fn chat_completions(State(gw): State<Gateway>, req: Request) -> Response {
    complete(gw, Dialect::OpenAi, req).await
}

pub async fn metrics(State(gw): State<Gateway>) -> Response {
    metrics::gauge!("atrium_ledger_queue_depth").set(gw.ledger.depth() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        super::metrics::render(),
    )
        .into_response()
}

/// The key from `x-api-key` or `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> &str {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
        })
        .unwrap_or("")
}

async fn authenticate(
    gw: &Gateway,
    headers: &HeaderMap,
) -> Result<Arc<Authenticated>, GatewayError> {
    api_keys::authenticate(&gw.svc, presented_key(headers))
        .await
        .map_err(GatewayError::Unauthorized)
}

/// `GET /v1/models`: one shape both SDKs read.
pub async fn models(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let dialect = if headers.contains_key("x-api-key") || headers.contains_key("anthropic-version")
    {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = async {
        let auth = authenticate(&gw, &headers).await?;
        let cat = catalog::snapshot(&gw.svc)
            .await
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
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
        Ok::<_, GatewayError>(json!({ "object": "list", "data": data, "has_more": false,
                                      "first_id": first, "last_id": last }))
    }
    .await;
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_dialect(dialect, &request_id),
    }
}

/// What is known about a request as it moves through the pipeline; it
/// becomes the `usage_event`.
struct Account {
    request_id: String,
    started: Instant,
    dialect: Dialect,
    tenant: Option<Arc<Authenticated>>,
    model: String,
    provider: Option<String>,
    stream: bool,
    estimate: i64,
    price: crate::domain::pricing::Price,
    /// Set once the request's `usage_event` exists, so it is made only once.
    recorded: bool,
    policy_action: Action,
    classification: Classification,
    ledger: Arc<super::ledger::Ledger>,
}

/// A client that hangs up mid-request drops the handler; the request is
/// still accounted, as closed by the client (499).
impl Drop for Account {
    fn drop(&mut self) {
        if let Some(ev) = self.event(499, TokenCounts::default(), Some("client_closed")) {
            self.ledger.push_detached(ev);
        }
    }
}

impl Account {
    fn event(
        &mut self,
        status: u16,
        tokens: TokenCounts,
        error_type: Option<&str>,
    ) -> Option<UsageEvent> {
        if self.recorded {
            return None;
        }
        let auth = self.tenant.as_ref()?;
        self.recorded = true;
        Some(UsageEvent {
            request_id: self.request_id.clone(),
            tenant_id: auth.tenant.id.clone(),
            api_key_id: Some(auth.api_key.id.clone()),
            model: if self.model.is_empty() {
                "-".into()
            } else {
                self.model.clone()
            },
            provider: self.provider.clone(),
            dialect: self.dialect.as_str().to_string(),
            stream: self.stream,
            input_tokens: tokens.input,
            output_tokens: tokens.output,
            cache_read_tokens: tokens.cache_read,
            cache_write_tokens: tokens.cache_write,
            cost_micros: cost(&self.price, &tokens),
            latency_ms: self.started.elapsed().as_millis() as i64,
            status,
            error_type: error_type.map(str::to_string),
            created_at: now_millis(),
            policy_action: self.policy_action.as_str().to_string(),
            classification: self.classification.as_str().to_string(),
        })
    }

    fn observe(&self, status: u16, tokens: &TokenCounts) {
        let tenant = self
            .tenant
            .as_ref()
            .map_or_else(String::new, |a| a.tenant.id.clone());
        metrics::counter!("atrium_requests_total", "tenant" => tenant, "model" => self.model.clone(),
            "status" => status.to_string()).increment(1);
        metrics::histogram!("atrium_gateway_seconds").record(self.started.elapsed().as_secs_f64());
        metrics::counter!("atrium_tokens_total", "kind" => "input")
            .increment(tokens.input.max(0) as u64);
        metrics::counter!("atrium_tokens_total", "kind" => "output")
            .increment(tokens.output.max(0) as u64);
    }
}

async fn complete(gw: Gateway, dialect: Dialect, req: Request) -> Response {
    let mut acct = Account {
        request_id: format!("req_{}", uuid::Uuid::new_v4().simple()),
        started: Instant::now(),
        dialect,
        tenant: None,
        model: String::new(),
        provider: None,
        stream: false,
        estimate: 0,
        price: Default::default(),
        recorded: false,
        policy_action: Action::Allow,
        classification: Classification::Public,
        ledger: gw.ledger.clone(),
    };
    match run(&gw, &mut acct, req).await {
        Ok(response) => response,
        Err(e) => {
            let status = e.status().as_u16();
            if let GatewayError::RateLimited { .. } = e {
                metrics::counter!("atrium_rate_limited_total").increment(1);
            }
            if let GatewayError::Internal(detail) = &e {
                tracing::error!(request_id = %acct.request_id, detail = %detail, "gateway error");
            }
            acct.observe(status, &TokenCounts::default());
            if let Some(ev) = acct.event(status, TokenCounts::default(), Some(e.kind())) {
                gw.ledger.push(ev).await;
            }
            e.into_dialect(dialect, &acct.request_id)
        }
    }
}

async fn run(gw: &Gateway, acct: &mut Account, req: Request) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let auth = authenticate(gw, &parts.headers).await?;
    tracing::Span::current().record("tenant_id", auth.tenant.id.as_str());
    acct.tenant = Some(auth.clone());
    let limit = gw.svc.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| GatewayError::TooLarge(limit))?;
    let mut body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::BadJson(format!("request body is not valid JSON: {e}")))?;
    let requested = validate(acct.dialect, &body)?;
    acct.model = requested.clone();
    let governed = govern::prompt(gw, &auth.tenant.id, &acct.request_id, &mut body).await?;
    acct.policy_action = governed.action;
    acct.classification = governed.classification;
    if let Some(refusal) = governed.refusal {
        return Err(refusal);
    }
    acct.stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);

    let cat = catalog::snapshot(&gw.svc)
        .await
        .map_err(|e| GatewayError::Internal(e.to_string()))?;
    let (model, deployments) = route(&cat, &auth, &requested)?;
    acct.price = model.price;

    acct.estimate = estimate_tokens(&bytes, &body);
    let rate = gw
        .limiter
        .admit(&auth.tenant, acct.estimate)
        .await
        .map_err(|d| GatewayError::RateLimited {
            message: d.message,
            retry_after_s: (d.retry_after_ms.min(60_000.0) / 1000.0).ceil().max(1.0) as u64,
        })?;

    let anthropic_version = parts
        .headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok());
    let dialect = acct.dialect;
    let answer = upstream::call(&gw.http, &cat, &deployments, anthropic_version, |d| {
        upstream_body(dialect, d, &body)
    })
    .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            gw.limiter.settle(&auth.tenant, -acct.estimate).await;
            return Err(e);
        }
    };
    acct.provider = Some(answer.deployment.provider.name.clone());
    metrics::histogram!("atrium_upstream_seconds",
        "provider" => answer.deployment.provider.name.clone())
    .record(answer.upstream_latency.as_secs_f64());
    if acct.stream {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(stream_response(
            gw.clone(),
            acct,
            answer,
            include_usage,
            rate,
        ))
    } else {
        whole_response(gw, acct, answer, rate).await
    }
}

/// The fields each dialect requires, with messages that say what is wrong.
fn validate(dialect: Dialect, body: &Value) -> Result<String, GatewayError> {
    if !body.is_object() {
        return Err(GatewayError::BadJson(
            "request body must be a JSON object".into(),
        ));
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| GatewayError::Invalid("model: field required".into()))?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| GatewayError::Invalid("messages: field required (an array)".into()))?;
    if messages.is_empty() {
        return Err(GatewayError::Invalid(
            "messages: at least one message is required".into(),
        ));
    }
    if messages
        .iter()
        .any(|m| !m.get("role").is_some_and(Value::is_string))
    {
        return Err(GatewayError::Invalid(
            "messages: every message needs a role".into(),
        ));
    }
    if dialect == Dialect::Anthropic {
        match body.get("max_tokens").and_then(Value::as_i64) {
            Some(n) if n >= 1 => {}
            _ => {
                return Err(GatewayError::Invalid(
                    "max_tokens: field required (a positive integer)".into(),
                ))
            }
        }
    }
    if body.get("stream").is_some_and(|s| !s.is_boolean()) {
        return Err(GatewayError::Invalid(
            "stream: must be true or false".into(),
        ));
    }
    Ok(model.to_string())
}

/// Alias → catalog model → deployments in the tenant's data location.
fn route(
    cat: &catalog::Catalog,
    auth: &Authenticated,
    requested: &str,
) -> Result<(Arc<Model>, Vec<Deployment>), GatewayError> {
    let model = cat
        .resolve(&auth.tenant.id, requested)
        .ok_or_else(|| GatewayError::NotFound(format!("model {requested} not found")))?;
    let deployments: Vec<Deployment> = model
        .deployments
        .iter()
        .filter(|d| d.provider.serves_region(&auth.tenant.data_location))
        .cloned()
        .collect();
    if deployments.is_empty() {
        return Err(GatewayError::Forbidden(format!(
            "model {requested} is not available in this tenant's data location ({})",
            auth.tenant.data_location
        )));
    }
    Ok((model, deployments))
}

/// A cheap upper-bound guess: about four bytes a token, plus the most the
/// model may write. Settled against real usage afterwards.
fn estimate_tokens(bytes: &[u8], body: &Value) -> i64 {
    let output = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_i64)
        .unwrap_or(256)
        .clamp(1, 32_768);
    (bytes.len() as i64 / 4).max(1) + output
}

/// The body for one deployment: passed through (model swapped) when the
/// dialects match, translated when they differ.
fn upstream_body(dialect: Dialect, d: &Deployment, body: &Value) -> Value {
    if dialect.matches(d.provider.kind) {
        let mut b = body.clone();
        b["model"] = json!(d.upstream_model);
        if dialect == Dialect::OpenAi && b.get("stream").and_then(Value::as_bool) == Some(true) {
            b["stream_options"] = json!({ "include_usage": true });
        }
        return b;
    }
    match dialect {
        Dialect::Anthropic => {
            let mut b = request::anthropic_to_openai(body, &d.upstream_model);
            if b.get("stream").and_then(Value::as_bool) == Some(true) {
                b["stream_options"] = json!({ "include_usage": true });
            }
            b
        }
        Dialect::OpenAi => request::openai_to_anthropic(body, &d.upstream_model),
    }
}

fn finish_headers(res: &mut Response, dialect: Dialect, rate: &RateInfo, request_id: &str) {
    rate_headers(dialect, rate, res.headers_mut());
    if let Ok(v) = HeaderValue::from_str(request_id) {
        res.headers_mut().insert("request-id", v.clone());
        res.headers_mut().insert("x-request-id", v);
    }
}

async fn whole_response(
    gw: &Gateway,
    acct: &mut Account,
    answer: upstream::Answer,
    rate: RateInfo,
) -> Result<Response, GatewayError> {
    let timeout = Duration::from_millis(answer.deployment.provider.timeout_ms.max(1) as u64);
    let auth = acct
        .tenant
        .clone()
        .ok_or_else(|| GatewayError::Internal("no tenant".into()))?;
    let provider_dialect = Dialect::of(answer.deployment.provider.kind);
    let read = tokio::time::timeout(timeout, answer.response.bytes()).await;
    let converted = match read {
        Ok(Ok(bytes)) => convert_whole(acct.dialect, provider_dialect, &bytes, &acct.model),
        Ok(Err(_)) => None,
        Err(_) => {
            gw.limiter.settle(&auth.tenant, -acct.estimate).await;
            return Err(GatewayError::UpstreamTimeout);
        }
    };
    let Some((out, tokens)) = converted else {
        gw.limiter.settle(&auth.tenant, -acct.estimate).await;
        return Err(GatewayError::UpstreamUnavailable);
    };
    gw.limiter
        .settle(&auth.tenant, tokens.total() - acct.estimate)
        .await;
    let out = govern::response(gw, &auth.tenant.id, &acct.request_id, out).await;
    acct.observe(200, &tokens);
    if let Some(ev) = acct.event(200, tokens, None) {
        gw.ledger.push(ev).await;
    }
    let mut res = Response::new(Body::from(out));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    finish_headers(&mut res, acct.dialect, &rate, &acct.request_id);
    Ok(res)
}

/// The client's body and the usage it reports. When the dialects match, the
/// top level is split into raw values so the body passes through without
/// being rebuilt; only `model` is renamed to what the client asked for.
fn convert_whole(
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
        let mut top: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_slice(bytes).ok()?;
        let tokens = top
            .get("usage")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .map(|u| read_usage(&u))
            .unwrap_or_default();
        if top.contains_key("model") {
            let name = serde_json::value::to_raw_value(model).ok()?;
            top.insert("model".into(), name);
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

/// Accounts for a stream exactly once: when it ends, or when it is dropped
/// because the client went away.
struct StreamGuard {
    gw: Gateway,
    acct: Account,
    translator: Box<dyn StreamTranslator>,
    done: bool,
}

impl StreamGuard {
    fn outcome(&mut self, status: u16, error: Option<&str>) -> Option<UsageEvent> {
        self.done = true;
        let tokens = self.translator.usage();
        self.acct.observe(status, &tokens);
        if let Some(auth) = self.acct.tenant.clone() {
            let gw = self.gw.clone();
            let delta = tokens.total() - self.acct.estimate;
            tokio::spawn(async move { gw.limiter.settle(&auth.tenant, delta).await });
        }
        self.acct.event(status, tokens, error)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.done {
            // 499: the client closed the connection before the stream ended.
            if let Some(ev) = self.outcome(499, Some("client_closed")) {
                self.gw.ledger.push_detached(ev);
            }
        }
    }
}

fn stream_response(
    gw: Gateway,
    acct: &mut Account,
    answer: upstream::Answer,
    include_usage: bool,
    rate: RateInfo,
) -> Response {
    let provider_dialect = Dialect::of(answer.deployment.provider.kind);
    let translator: Box<dyn StreamTranslator> = match (acct.dialect, provider_dialect) {
        (Dialect::Anthropic, Dialect::Anthropic) => Box::new(AnthropicPassthrough::default()),
        (Dialect::OpenAi, Dialect::OpenAi) => Box::new(OpenAiPassthrough::new(include_usage)),
        (Dialect::Anthropic, Dialect::OpenAi) => Box::new(OpenAiToAnthropic::new(&acct.model)),
        (Dialect::OpenAi, Dialect::Anthropic) => {
            Box::new(AnthropicToOpenAi::new(&acct.model, include_usage))
        }
    };
    let idle = Duration::from_millis(answer.deployment.provider.timeout_ms.max(1) as u64);
    let dialect = acct.dialect;
    let request_id = acct.request_id.clone();
    let stays = placeholder(acct);
    let mut guard = StreamGuard {
        gw: gw.clone(),
        acct: std::mem::replace(acct, stays),
        translator,
        done: false,
    };
    let mut upstream = answer.response.bytes_stream();
    let body = async_stream::stream! {
        let mut parser = SseParser::default();
        let mut failure: Option<&'static str> = None;
        loop {
            match tokio::time::timeout(idle, upstream.next()).await {
                Ok(Some(Ok(bytes))) => {
                    for ev in parser.push(&bytes) {
                        for frame in guard.translator.on_event(&ev) {
                            yield Ok::<Bytes, Infallible>(Bytes::from(frame));
                        }
                    }
                }
                Ok(Some(Err(_))) => { failure = Some("upstream_error"); break; }
                Ok(None) => break,
                Err(_) => { failure = Some("timeout_error"); break; }
            }
        }
        if let Some(ev) = parser.finish() {
            for frame in guard.translator.on_event(&ev) {
                yield Ok(Bytes::from(frame));
            }
        }
        let failure = failure.or((!guard.translator.completed()).then_some("upstream_error"));
        match failure {
            None => {
                for frame in guard.translator.finish() {
                    yield Ok(Bytes::from(frame));
                }
            }
            Some(kind) => {
                let message = "the upstream stream ended early";
                let err = dialect.error_body(if kind == "timeout_error" { "timeout_error" } else { "api_error" }, message);
                let event = (dialect == Dialect::Anthropic).then_some("error");
                yield Ok(Bytes::from(encode(event, &err.to_string())));
            }
        }
        let status = if failure.is_some() { 502 } else { 200 };
        if let Some(ev) = guard.outcome(status, failure) {
            guard.gw.ledger.push(ev).await;
        }
    };
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    finish_headers(&mut res, dialect, &rate, &request_id);
    res
}

/// What stays behind in the caller's `Account` once the stream owns it.
fn placeholder(acct: &Account) -> Account {
    Account {
        request_id: acct.request_id.clone(),
        started: acct.started,
        dialect: acct.dialect,
        tenant: None,
        model: acct.model.clone(),
        provider: None,
        stream: true,
        estimate: 0,
        price: Default::default(),
        recorded: true,
        policy_action: acct.policy_action,
        classification: acct.classification,
        ledger: acct.ledger.clone(),
    }
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> Self {
        GatewayError::Unauthorized(e)
    }
}

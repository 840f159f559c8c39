//! Liveness, readiness, `/metrics` (public with a token, or on the
//! private listener) and the per-request tracing span.

use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::server::gateway::{metrics as gateway_metrics, Gateway};

use super::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.services.db.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}

/// The private listener's one route (`ATRIUM_METRICS_ADDR`).
pub fn metrics_routes(gw: Gateway) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(gw)
}

/// `/metrics` on the public listener, for the main router.
pub fn public_metrics_routes<S: Clone + Send + Sync + 'static>(gw: Gateway) -> Router<S> {
    Router::new()
        .route("/metrics", get(public_metrics))
        .with_state(gw)
}

/// `/metrics` on the public listener: only with `ATRIUM_METRICS_TOKEN`
/// as a bearer token; unconfigured, it is not there.
async fn public_metrics(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let Some(token) = gw.svc.config.metrics_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same_secret(given, token) {
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
        return (StatusCode::UNAUTHORIZED, challenge).into_response();
    }
    metrics(State(gw)).await
}

/// Compares digests, so the time taken says nothing about the token.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// `/metrics` as the scraper sees it (the private listener serves this as is).
async fn metrics(State(gw): State<Gateway>) -> Response {
    metrics::gauge!("atrium_ledger_queue_depth").set(gw.ledger.depth() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway_metrics::render(),
    )
        .into_response()
}

/// Carries the request id so every log line of a request can be found.
/// The query string is left out: it can hold things that must not be logged.
pub fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        tenant_id = tracing::field::Empty,
    )
}

/// Headers every response carries: no MIME sniffing, no framing (the
/// portal cannot be clickjacked), no referrer beyond this origin, no
/// plugins or foreign `<base>`, forms post here only, and HSTS when the
/// public URL is https. Script sources are restricted by the page itself
/// (`app::shell`), whose policy carries the render's nonce.
pub async fn security_headers(
    hsts: bool,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{self, HeaderValue};
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'",
    );
    if hsts {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    res
}

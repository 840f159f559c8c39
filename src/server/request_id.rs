//! One id per request, `req_…`: assigned at the edge (a client's own
//! `x-request-id` is not trusted), carried in the log span, the ledger row
//! and the audit details, and returned as the response's `x-request-id`.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

const HEADER: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn fresh() -> Self {
        RequestId(Self::fresh_string())
    }

    /// Time-ordered (UUID v7, see `services::new_id`): the ledger's
    /// primary key is the request id.
    pub fn fresh_string() -> String {
        format!("req_{}", uuid::Uuid::now_v7().simple())
    }
}

/// Middleware: gives the request its id before anything else sees it.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = RequestId::fresh();
    let value = HeaderValue::from_str(&id.0).ok();
    match &value {
        Some(v) => req.headers_mut().insert(HEADER, v.clone()),
        None => req.headers_mut().remove(HEADER),
    };
    req.extensions_mut().insert(id);
    let mut res = next.run(req).await;
    if let Some(v) = value {
        res.headers_mut().entry(HEADER).or_insert(v);
    }
    res
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::fresh))
    }
}

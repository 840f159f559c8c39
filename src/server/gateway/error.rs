//! The gateway's error type, answered in the caller's dialect.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use super::dialect::Dialect;
use crate::domain::completion::{ErrorKind, RequestError};
use crate::server::services::api_keys::AuthError;
use crate::server::services::ServiceError;

#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("{0}")]
    Unauthorized(AuthError),
    #[error("{0}")]
    BadJson(String),
    #[error("{0}")]
    Invalid(String),
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after_s: u64 },
    /// A hard budget would be crossed; the message names it.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The provider refused the request itself (a 4xx): its words, its status.
    #[error("{message}")]
    Upstream { status: u16, message: String },
    #[error("the upstream provider did not answer in time")]
    UpstreamTimeout,
    #[error("the upstream provider is unavailable")]
    UpstreamUnavailable,
    #[error("internal error")]
    Internal(String),
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        let code = match self {
            GatewayError::Unauthorized(_) => 401,
            GatewayError::BadJson(_) => 422,
            GatewayError::Invalid(_) => 400,
            GatewayError::TooLarge(_) => 413,
            GatewayError::NotFound(_) => 404,
            GatewayError::Forbidden(_) => 403,
            GatewayError::RateLimited { .. } | GatewayError::BudgetExceeded(_) => 429,
            GatewayError::Upstream { status, .. } => *status,
            GatewayError::UpstreamTimeout => 504,
            GatewayError::UpstreamUnavailable => 502,
            GatewayError::Internal(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY)
    }

    /// What kind of failure this is, for the client's error body and the ledger.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GatewayError::Unauthorized(_) => ErrorKind::Authentication,
            GatewayError::BadJson(_) | GatewayError::Invalid(_) => ErrorKind::InvalidRequest,
            GatewayError::TooLarge(_) => ErrorKind::RequestTooLarge,
            GatewayError::NotFound(_) => ErrorKind::NotFound,
            GatewayError::Forbidden(_) => ErrorKind::Permission,
            GatewayError::RateLimited { .. } => ErrorKind::RateLimit,
            GatewayError::BudgetExceeded(_) => ErrorKind::BudgetExceeded,
            GatewayError::Upstream { status, .. } => match status {
                401 | 403 => ErrorKind::Api,
                404 => ErrorKind::NotFound,
                413 => ErrorKind::RequestTooLarge,
                429 => ErrorKind::RateLimit,
                _ => ErrorKind::InvalidRequest,
            },
            GatewayError::UpstreamTimeout => ErrorKind::Timeout,
            GatewayError::UpstreamUnavailable | GatewayError::Internal(_) => ErrorKind::Api,
        }
    }

    /// Callers learn what they can act on; internals stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            GatewayError::Unauthorized(AuthError::Missing) => {
                "missing API key: send it as x-api-key or Authorization: Bearer".into()
            }
            GatewayError::Unauthorized(AuthError::Unavailable) => {
                "the key store is unavailable; try again".into()
            }
            GatewayError::Unauthorized(_) => "invalid, revoked or expired API key".into(),
            GatewayError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    pub fn into_dialect(self, dialect: Dialect, request_id: &str) -> Response {
        let status = self.status();
        let body = dialect.error_body(self.kind(), &self.public_message());
        let mut res = (status, axum::Json(body)).into_response();
        if let GatewayError::RateLimited { retry_after_s, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                res.headers_mut().insert("retry-after", v);
            }
        }
        set_request_id(res.headers_mut(), request_id);
        res
    }
}

/// The request id under both names clients read (Anthropic's `request-id`
/// and the common `x-request-id`), on answers and errors alike.
pub fn set_request_id(headers: &mut axum::http::HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", v.clone());
        headers.insert("x-request-id", v);
    }
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> Self {
        GatewayError::Unauthorized(e)
    }
}

impl From<RequestError> for GatewayError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::NotJson(m) => GatewayError::BadJson(m),
            RequestError::Invalid(m) => GatewayError::Invalid(m),
        }
    }
}

/// A service the gateway leans on failed (a cache load, the database): the
/// caller sees an internal error, the log sees why.
/// A service's refusal keeps its meaning in the caller's dialect: bad
/// input, not found and forbidden are the client's to fix, not a 500.
impl From<ServiceError> for GatewayError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(i) => GatewayError::Invalid(i.to_string()),
            ServiceError::NotFound(_) => GatewayError::NotFound(e.to_string()),
            ServiceError::Forbidden => GatewayError::Forbidden(e.to_string()),
            ServiceError::Unauthenticated => GatewayError::Unauthorized(AuthError::Invalid),
            ServiceError::Conflict(m) => GatewayError::Invalid(m),
            other => GatewayError::Internal(format!("{other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_refusal_is_not_a_server_error() {
        let status = |e: ServiceError| GatewayError::from(e).status().as_u16();
        assert_eq!(status(ServiceError::NotFound("model")), 404);
        assert_eq!(status(ServiceError::Forbidden), 403);
        assert_eq!(status(ServiceError::Unauthenticated), 401);
        assert_eq!(status(ServiceError::Internal("x".into())), 500);
    }
}

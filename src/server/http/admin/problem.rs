//! RFC 9457 problem details: how every admin API error leaves the server.
//! Each kind of failure has a stable `type` URI callers can branch on;
//! bad fields come back as a map of field to messages.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::server::services::ServiceError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:atrium:problem:<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Field name to what is wrong with it, for invalid input.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
    /// Seconds to wait, for rate limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &'static str, detail: String) -> Self {
        Problem {
            kind: format!("urn:atrium:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors: BTreeMap::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(field: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Invalid request",
            format!("{field}: {detail}"),
        );
        p.errors.insert(field.to_string(), vec![detail]);
        p
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            "this admin token is over its requests per minute".into(),
        );
        p.retry_after = Some(retry_after);
        p
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = ?e, "admin API request failed");
        }
        let detail = e.to_string();
        match e {
            ServiceError::Invalid(i) => Problem::bad_request(i.field, i.message),
            ServiceError::NotFound(_) => Problem::new(status, "not-found", "Not found", detail),
            ServiceError::Conflict(_) => Problem::new(status, "conflict", "Conflict", detail),
            ServiceError::Unauthenticated | ServiceError::MfaRequired(_) => Problem::new(
                status,
                "unauthenticated",
                "Authentication required",
                "send a live admin token as `Authorization: Bearer atr_adm_…`".into(),
            ),
            ServiceError::Forbidden => Problem::new(status, "forbidden", "Forbidden", detail),
            ServiceError::TooManyAttempts(_) => {
                Problem::new(status, "too-many-attempts", "Too many attempts", detail)
            }
            ServiceError::Stale(_) => Problem::new(
                status,
                "precondition-failed",
                "Precondition failed",
                format!("{detail}; read it again and send the new ETag in If-Match"),
            ),
            ServiceError::Unavailable(_) => {
                Problem::new(status, "unavailable", "Try again shortly", detail)
            }
            ServiceError::Internal(_) | ServiceError::Db(_) => Problem::new(
                status,
                "internal",
                "Internal error",
                "internal error".into(),
            ),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let mut res = (status, axum::Json(self)).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Lets handlers use `?` on service calls.
pub type ApiResult<T> = Result<T, Problem>;

//! How a service error leaves the portal's plain HTTP routes (sign-in,
//! exports): its status and a readable sentence. Internals go to the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::server::services::ServiceError;

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        (status, self.to_string()).into_response()
    }
}

/// A server function whose arguments could not be read (a field missing or
/// of the wrong type) is the caller's mistake, yet the server-function
/// layer answers it 500. This gives it the 400 it is, keeping the body
/// (`Args|…`), which the client-side code reads as before.
pub async fn bad_arguments_are_400(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let server_fn = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !server_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // Error bodies are one short line; anything longer is not this case.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response unreadable").into_response();
    };
    if bytes.starts_with(b"Args|") || bytes.starts_with(b"Deserialization|") {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

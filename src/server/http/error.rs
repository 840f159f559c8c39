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

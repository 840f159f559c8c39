//! `GET /audit/export`: a tenant's audit events over a date range as a
//! streamed CSV or JSON download, for the signed-in user.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;

use super::client::client_ip;
use super::AppState;
use crate::domain::audit::ExportFormat;
use crate::server::auth::{cookie, session};
use crate::server::services::{audit, ServiceError};

#[derive(Deserialize)]
pub struct ExportParams {
    tenant: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

pub async fn audit_export(
    State(state): State<AppState>,
    Query(p): Query<ExportParams>,
    req: Request,
) -> Response {
    let svc = &state.services;
    let headers = req.headers();
    let ip = client_ip(headers, req.extensions(), svc.config.trust_proxy);
    let token = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(cookie::session_token);
    let actor = match token {
        Some(t) => session::actor_for_token(svc, t, &ip).await,
        None => Ok(None),
    };
    let actor = match actor {
        Ok(Some(a)) => a,
        Ok(None) => return refuse(ServiceError::Unauthenticated),
        Err(e) => return refuse(e),
    };
    let Some(format) = ExportFormat::parse(if p.format.is_empty() {
        "csv"
    } else {
        &p.format
    }) else {
        return (StatusCode::BAD_REQUEST, "format must be csv or json").into_response();
    };
    match audit::export(svc, &actor, &p.tenant, &p.from, &p.to, format).await {
        Ok(stream) => {
            let body = Body::from_stream(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
            let name = format!(
                "attachment; filename=\"audit-{}.{}\"",
                p.tenant,
                format.extension()
            );
            let mut res = Response::new(body);
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            if let Ok(v) = HeaderValue::from_str(&name) {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => refuse(e),
    }
}

fn refuse(e: ServiceError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = ?e, "audit export failed");
    }
    (status, e.to_string()).into_response()
}

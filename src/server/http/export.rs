//! `POST /audit/export`: a tenant's audit events over a date range as a
//! streamed CSV or JSON download, for the signed-in user. A POST from the
//! portal's own page, never a GET: a link on another site cannot make a
//! signed-in user run (and audit) an export.

use crate::domain::tenant::TenantId;
use axum::body::Body;
use axum::extract::{Form, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;

use super::AppState;
use crate::domain::audit::ExportFormat;
use crate::server::services::{audit_export, Actor};

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
    actor: Actor,
    Form(p): Form<ExportParams>,
) -> Response {
    let svc = &state.services;
    let Some(format) = ExportFormat::parse(if p.format.is_empty() {
        "csv"
    } else {
        &p.format
    }) else {
        return (StatusCode::BAD_REQUEST, "format must be csv or json").into_response();
    };
    let tenant = match TenantId::parse(&p.tenant) {
        Ok(t) => t,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match audit_export::export(svc, &actor, Some(&tenant), &p.from, &p.to, format).await {
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
        Err(e) => e.into_response(),
    }
}

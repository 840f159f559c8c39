//! Files the portal links to: a month's invoice as CSV or JSON, and the
//! Usage page's table as CSV, filtered as shown. A plain
//! GET (it changes nothing and records nothing), for the signed-in user;
//! the service decides whether they may read that tenant's invoices.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::domain::invoice::Month;
use crate::domain::tenant::TenantId;
use crate::server::services::{invoices, Actor};

#[derive(Deserialize)]
pub struct Format {
    #[serde(default)]
    format: String,
}

pub async fn invoice(
    State(state): State<AppState>,
    actor: Actor,
    Path((tenant, month)): Path<(String, String)>,
    Query(f): Query<Format>,
) -> Response {
    let (tenant, month) = match (TenantId::parse(&tenant), month.parse::<Month>()) {
        (Ok(t), Ok(m)) => (t, m),
        (Err(e), _) | (_, Err(e)) => {
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    };
    let inv = match invoices::get(&state.services, &actor, &tenant, month).await {
        Ok(inv) => inv,
        Err(e) => return e.into_response(),
    };
    let name = inv
        .number
        .clone()
        .unwrap_or_else(|| format!("draft-{month}"));
    let (body, kind, ext) = match f.format.as_str() {
        "json" => match serde_json::to_string_pretty(&inv) {
            Ok(j) => (j, "application/json", "json"),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        "" | "csv" => (inv.to_csv(), "text/csv; charset=utf-8", "csv"),
        _ => return (StatusCode::BAD_REQUEST, "format must be csv or json").into_response(),
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[derive(Deserialize)]
pub struct UsageFilters {
    #[serde(default)]
    period: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    key: String,
}

pub async fn usage(
    State(state): State<AppState>,
    actor: Actor,
    Path(tenant): Path<String>,
    Query(f): Query<UsageFilters>,
) -> Response {
    use crate::domain::dashboard::Span;
    use crate::server::services::dashboards;
    let (tenant, span) = match (TenantId::parse(&tenant), Span::parse(&f.period)) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(e), _) | (_, Err(e)) => {
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    };
    let some = |s: String| Some(s).filter(|s| !s.is_empty());
    match dashboards::tenant(
        &state.services,
        &actor,
        &tenant,
        span,
        some(f.model),
        some(f.key),
    )
    .await
    {
        Ok(u) => {
            let mut res = u.to_csv().into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            let name = format!("attachment; filename=\"usage-{}.csv\"", span.as_str());
            if let Ok(v) = HeaderValue::from_str(&name) {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

/// An issued compliance report: the signed JSON document as stored (an
/// attachment), its printable page (shown inline), or its tables as CSV.
pub async fn compliance_report(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Query(f): Query<Format>,
) -> Response {
    use crate::domain::compliance_render;
    use crate::server::services::compliance::report;
    let (_, document) = match report::get(&state.services, &actor, &id).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let doc = || serde_json::from_str::<serde_json::Value>(&document);
    let (body, kind, attachment) = match f.format.as_str() {
        "" | "json" => (document.clone(), "application/json", Some("json")),
        "html" => match doc() {
            Ok(d) => (
                compliance_render::html(&d),
                "text/html; charset=utf-8",
                None,
            ),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        "csv" => match doc() {
            Ok(d) => (
                compliance_render::csv(&d),
                "text/csv; charset=utf-8",
                Some("csv"),
            ),
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        "zip" => {
            let pack = doc()
                .map_err(|e| e.to_string())
                .and_then(|d| report::pack_zip(&d).map_err(|e| e.to_string()));
            return match pack {
                Ok(bytes) => zip_response(bytes, &id),
                Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
            };
        }
        _ => {
            let why = "format must be json, html, csv or zip";
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // The page shows tenant text (prompts, names), escaped; no script may
    // run there even so.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    if let Some(ext) = attachment {
        // The id was found in the database, so it is one of ours: no quoting issues.
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.{ext}\"")) {
            res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    res
}

fn zip_response(bytes: Vec<u8>, id: &str) -> Response {
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.zip\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

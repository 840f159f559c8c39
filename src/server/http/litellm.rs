//! LiteLLM's key-management endpoints (`/key/generate`, `/key/delete`,
//! `/key/info`, `/team/new`, `/spend/logs`) with LiteLLM's request and
//! response shapes, authenticated by an admin token in the place of
//! LiteLLM's master key. Fields Atrium has no equivalent for are listed in
//! the `x-atrium-ignored` header of the answer.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::caller::Caller;
use super::admin::problem::Problem;
use super::admin::{AdminState, TokenLimiter};
use crate::domain::budget::Budget;
use crate::domain::budget::Period;
use crate::domain::litellm::{self, KeyDelete, KeyGenerate, TeamNew};
use crate::domain::time::{parse_day_or_time, rfc3339, DAY};
use crate::server::services::{litellm as svc_litellm, Services};

/// The paths, each mounted at the root as LiteLLM serves them.
pub const PATHS: [&str; 5] = [
    "/key/generate",
    "/key/delete",
    "/key/info",
    "/team/new",
    "/spend/logs",
];

pub fn router(services: Services, limiter: Arc<TokenLimiter>) -> Router {
    Router::new()
        .route("/key/generate", post(generate))
        .route("/key/delete", post(delete))
        .route("/key/info", get(info))
        .route("/team/new", post(team_new))
        .route("/spend/logs", get(spend_logs))
        .layer(axum::middleware::from_fn(super::admin::refuse_nul))
        .with_state(AdminState { services, limiter })
}

/// LiteLLM's error body: `{"error": {"message", "type", "param", "code"}}`.
pub struct LiteError(Problem);

impl<E: Into<Problem>> From<E> for LiteError {
    fn from(e: E) -> Self {
        LiteError(e.into())
    }
}

impl IntoResponse for LiteError {
    fn into_response(self) -> Response {
        let p = self.0;
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = match p.status {
            401 => "auth_error",
            403 => "forbidden",
            404 => "not_found_error",
            429 => "rate_limit_error",
            400..=499 => "bad_request_error",
            _ => "internal_server_error",
        };
        let param = p.errors.keys().next().cloned();
        let body = json!({ "error": { "message": p.detail, "type": kind,
                                      "param": param, "code": p.status.to_string() } });
        (status, Json(body)).into_response()
    }
}

type LiteResult = Result<Response, LiteError>;

/// The admin token as LiteLLM's master key: refusals in LiteLLM's shape.
pub struct Master(Caller);

impl FromRequestParts<AdminState> for Master {
    type Rejection = LiteError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AdminState,
    ) -> Result<Self, LiteError> {
        Ok(Master(Caller::from_request_parts(parts, state).await?))
    }
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, LiteError> {
    serde_json::from_slice(bytes)
        .map_err(|e| LiteError(Problem::bad_request("body", e.to_string())))
}

/// The answer, with the fields that were not applied named in a header.
fn answer(value: Value, ignored: &[String]) -> Response {
    let mut res = Json(value).into_response();
    if !ignored.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&ignored.join(", ")) {
            res.headers_mut().insert("x-atrium-ignored", v);
        }
    }
    res
}

fn dollars(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// A budget period as LiteLLM writes `budget_duration`.
fn duration(p: Period) -> String {
    match p {
        Period::Month => "1mo".into(),
        Period::Days(n) => format!("{n}d"),
    }
}

fn budget_fields(b: Option<&Budget>) -> (Value, Value) {
    match b {
        Some(b) => (json!(dollars(b.limit_micros)), json!(duration(b.period))),
        None => (Value::Null, Value::Null),
    }
}

async fn generate(
    State(state): State<AdminState>,
    Master(caller): Master,
    bytes: Bytes,
) -> LiteResult {
    let req: KeyGenerate = body(&bytes)?;
    let (created, budget) = svc_litellm::generate_key(&state.services, &caller.actor, &req).await?;
    let k = &created.api_key;
    let (max_budget, budget_duration) = budget_fields(budget.as_ref());
    let value = json!({
        "key": created.key, "token": k.id, "key_name": k.prefix, "key_alias": k.name,
        "team_id": k.tenant_id, "expires": k.expires_at.map(rfc3339),
        "max_budget": max_budget, "budget_duration": budget_duration,
        "models": [], "spend": 0.0, "created_at": rfc3339(k.created_at),
    });
    Ok(answer(value, &litellm::ignored(&req.other)))
}

async fn delete(
    State(state): State<AdminState>,
    Master(caller): Master,
    bytes: Bytes,
) -> LiteResult {
    let req: KeyDelete = body(&bytes)?;
    let deleted = svc_litellm::delete_keys(&state.services, &caller.actor, &req).await?;
    Ok(answer(json!({ "deleted_keys": deleted }), &[]))
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

async fn info(
    State(state): State<AdminState>,
    Master(caller): Master,
    Query(q): Query<KeyQuery>,
) -> LiteResult {
    let named = q
        .key
        .ok_or_else(|| Problem::bad_request("key", "is required"))?;
    let i = svc_litellm::key_info(&state.services, &caller.actor, &named).await?;
    let k = &i.key;
    let (max_budget, budget_duration) = budget_fields(i.budget.as_ref());
    let value = json!({
        "key": named,
        "info": {
            "token": k.id, "key_name": k.prefix, "key_alias": k.name, "team_id": k.tenant_id,
            "spend": dollars(i.spent_micros), "max_budget": max_budget,
            "budget_duration": budget_duration, "expires": k.expires_at.map(rfc3339),
            "created_at": rfc3339(k.created_at), "blocked": k.revoked_at.is_some(),
            "models": [],
        }
    });
    Ok(answer(value, &[]))
}

async fn team_new(
    State(state): State<AdminState>,
    Master(caller): Master,
    bytes: Bytes,
) -> LiteResult {
    let req: TeamNew = body(&bytes)?;
    let (t, budget) = svc_litellm::new_team(&state.services, &caller.actor, &req).await?;
    let (max_budget, budget_duration) = budget_fields(budget.as_ref());
    let value = json!({
        "team_id": t.id, "team_alias": t.name, "rpm_limit": t.rpm_limit, "tpm_limit": t.tpm_limit,
        "max_budget": max_budget, "budget_duration": budget_duration, "models": [],
        "spend": 0.0, "blocked": false, "created_at": rfc3339(t.created_at),
    });
    Ok(answer(value, &litellm::ignored(&req.other)))
}

#[derive(Deserialize)]
struct SpendQuery {
    api_key: Option<String>,
    team_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// Dates are inclusive `YYYY-MM-DD`; without them, the last 30 days.
fn period(q: &SpendQuery) -> Result<(i64, i64), LiteError> {
    let day = |field: &'static str, raw: &str| {
        parse_day_or_time(raw)
            .ok_or_else(|| LiteError(Problem::bad_request(field, "must be YYYY-MM-DD")))
    };
    let to = match &q.end_date {
        Some(d) => day("end_date", d)?.saturating_add(DAY),
        None => crate::domain::time::now_millis(),
    };
    let from = match &q.start_date {
        Some(d) => day("start_date", d)?,
        None => to.saturating_sub(30 * DAY),
    };
    Ok((from, to))
}

async fn spend_logs(
    State(state): State<AdminState>,
    Master(caller): Master,
    Query(q): Query<SpendQuery>,
) -> LiteResult {
    let period = period(&q)?;
    let logs = svc_litellm::spend_logs(
        &state.services,
        &caller.actor,
        q.api_key.as_deref(),
        q.team_id.as_deref(),
        period,
    )
    .await?;
    Ok(answer(json!(logs), &[]))
}

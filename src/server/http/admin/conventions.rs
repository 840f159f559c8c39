//! What every admin endpoint shares: cursor paging from the query, JSON
//! bodies read into domain types, revisions as ETags checked against
//! If-Match, and idempotent creates.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use crate::domain::cursor::CursorRequest;
use crate::domain::time::{now_millis, DAY};
use crate::server::services::{ServiceError, Services};

/// `?limit=&cursor=`: at most 200 per page; pass `next_cursor` back.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Rows per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Paging {
    pub fn request(&self) -> ApiResult<CursorRequest> {
        Ok(CursorRequest::new(self.limit, self.cursor.as_deref()).map_err(ServiceError::from)?)
    }
}

/// A JSON body read into a domain type; a malformed one is a 400 that
/// says where.
pub fn body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| Problem::bad_request("body", e.to_string()))
}

/// A service's answer as the JSON an idempotent create keeps.
pub fn json<T: serde::Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ServiceError::Internal(e.to_string()).into())
}

/// A resource with its revision as a strong ETag.
pub fn with_etag<T: Serialize>(status: StatusCode, value: &T, revision: i64) -> Response {
    let mut res = (status, axum::Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// The revisions an `If-Match` names: `None` without the header or with
/// `*`. If-Match compares strongly (RFC 9110 13.1.1), so weak tags never
/// match; a header naming none of our ETags can never match (412).
pub fn if_match(headers: &HeaderMap) -> ApiResult<Option<Vec<i64>>> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = raw.to_str().unwrap_or("").trim();
    if raw == "*" {
        return Ok(None);
    }
    let tags: Vec<i64> = raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.starts_with("W/"))
        .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"')?.parse::<i64>().ok())
        .take(16)
        .collect();
    if tags.is_empty() {
        return Err(
            ServiceError::Stale("If-Match names no revision of this resource".into()).into(),
        );
    }
    Ok(Some(tags))
}

/// The one revision to hold a write to: the current one when the list
/// names it, otherwise one it does not (the write is then refused, 412).
pub fn expected_revision(tags: Option<Vec<i64>>, current: i64) -> Option<i64> {
    tags.map(|t| if t.contains(&current) { current } else { t[0] })
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";
const KEEP_MS: i64 = DAY;
/// Keys one token may hold at once (24 hours' worth): the table cannot be
/// grown without bound by one script sending a fresh key each time.
const MAX_KEYS_PER_TOKEN: i64 = 10_000;
/// A claim older than this whose request never stored an answer is free.
const STALE_CLAIM_MS: i64 = 5 * 60 * 1000;

/// Runs a create once per `Idempotency-Key`: a retry with the same key
/// and body gets the first answer again (marked `Idempotent-Replayed`),
/// the same key with another body a 422, and a retry while the first is
/// still running a 409. Failures are not kept, so they can be retried.
pub async fn once<F, Fut>(
    caller: &Caller,
    headers: &HeaderMap,
    request: (&str, &Bytes),
    run: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<(StatusCode, serde_json::Value)>>,
{
    let svc = &caller.svc;
    let Some(key) = idempotency_key(headers)? else {
        let (status, value) = run().await?;
        return Ok((status, axum::Json(value)).into_response());
    };
    let hash = request_hash(svc, &caller.token.id, request);
    if let Some(replay) = claim(svc, &caller.token.id, &key, &hash).await? {
        return Ok(replay);
    }
    match run().await {
        Ok((status, value)) => {
            keep(svc, &caller.token.id, &key, status, &value).await;
            Ok((status, axum::Json(value)).into_response())
        }
        Err(problem) => {
            release(svc, &caller.token.id, &key).await;
            Err(problem)
        }
    }
}

/// Stores the answer for retries, sealed: it may hold a secret shown
/// once (a new key or token). A failure to store is logged, not turned
/// into an error: the change happened, and the caller must see its answer.
async fn keep(
    svc: &Services,
    token: &str,
    key: &str,
    status: StatusCode,
    value: &serde_json::Value,
) {
    let sealed = match svc.secrets.seal(&value.to_string()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "sealing an idempotent answer failed; the key is released");
            release(svc, token, key).await;
            return;
        }
    };
    let stored = sqlx::query(
        "UPDATE idempotency_keys SET status = $1, body = $2 WHERE token_id = $3 AND idem_key = $4",
    )
    .bind(i64::from(status.as_u16()))
    .bind(sealed)
    .bind(token)
    .bind(key)
    .execute(&svc.db.pool)
    .await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "storing an idempotent answer failed; a retry runs again");
        release(svc, token, key).await;
    }
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(raw) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = raw.to_str().unwrap_or("").trim();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > 255 || !printable {
        return Err(Problem::bad_request(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(Some(key.to_string()))
}

/// A keyed hash of the request (its body may hold a new user's password):
/// the same request under the same token hashes the same, and the stored
/// value tells nothing without the server's key.
fn request_hash(svc: &Services, token: &str, (path, body): (&str, &Bytes)) -> String {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    svc.secrets
        .reports()
        .subject_hash(token, &hex::encode(h.finalize()))
}

/// Takes the key for this request, or answers from its earlier use.
async fn claim(svc: &Services, token: &str, key: &str, hash: &str) -> ApiResult<Option<Response>> {
    let now = now_millis();
    let pool = &svc.db.pool;
    // Expired keys, and claims whose request never finished (the client
    // went away, the process died) so their key is not stuck for a day.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < $1 OR (status = 0 AND created_at < $2)",
    )
    .bind(now - KEEP_MS)
    .bind(now - STALE_CLAIM_MS)
    .execute(pool)
    .await
    .map_err(ServiceError::from)?;
    if let Some(earlier) = earlier_use(svc, token, key, hash).await? {
        return Ok(Some(earlier));
    }
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys WHERE token_id = $1")
        .bind(token)
        .fetch_one(pool)
        .await
        .map_err(ServiceError::from)?;
    if held >= MAX_KEYS_PER_TOKEN {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-idempotency-keys",
            "Too many idempotency keys",
            format!(
                "this token holds {MAX_KEYS_PER_TOKEN} idempotency keys from the last 24 hours; \
                 retry later or send creates without one"
            ),
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (token_id, idem_key, request_hash, status, body, created_at) \
         VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT DO NOTHING",
    )
    .bind(token)
    .bind(key)
    .bind(hash)
    .bind(now)
    .execute(pool)
    .await
    .map_err(ServiceError::from)?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    // Another request took the key between the read and the insert.
    earlier_use(svc, token, key, hash).await
}

/// The answer a key already holds: a replay, a 422 for another body, or a
/// 409 while the first request still runs. `None` when the key is free.
async fn earlier_use(
    svc: &Services,
    token: &str,
    key: &str,
    hash: &str,
) -> ApiResult<Option<Response>> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency_keys \
         WHERE token_id = $1 AND idem_key = $2",
    )
    .bind(token)
    .bind(key)
    .fetch_optional(&svc.db.pool)
    .await
    .map_err(ServiceError::from)?;
    let Some((stored_hash, status, body)) = row else {
        return Ok(None);
    };
    if stored_hash != hash {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            "this Idempotency-Key was used with another request; use a new key".into(),
        ));
    }
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| s.is_success());
    let Some(status) = status else {
        return Err(ServiceError::Conflict(
            "the first request with this Idempotency-Key is still running".into(),
        )
        .into());
    };
    let body = svc.secrets.open(&body).map_err(ServiceError::from)?;
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(Some(res))
}

async fn release(svc: &Services, token: &str, key: &str) {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE token_id = $1 AND idem_key = $2")
        .bind(token)
        .bind(key)
        .execute(&svc.db.pool)
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "releasing an idempotency key failed; it expires in 24 hours");
    }
}

/// Query parameters read into a type; a malformed one (`limit=-1`) is a
/// problem document naming the query, like every other refusal here.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| ApiQuery(q))
            .map_err(|e| Problem::bad_request("query", e.body_text()))
    }
}

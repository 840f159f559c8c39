//! The usage ledger: one `usage_event` per completion request, and reports.

use std::collections::BTreeMap;

use sqlx::FromRow;

use crate::domain::role::Access;
use crate::domain::usage::{UsageReport, UsageTotals};

use super::{Actor, Result, Services};
use crate::server::db::Backend;

/// One request's outcome. `request_id` makes writes idempotent: a retried
/// batch does not count twice.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEvent {
    pub request_id: String,
    pub tenant_id: String,
    pub api_key_id: Option<String>,
    pub model: String,
    pub provider: Option<String>,
    pub dialect: &'static str,
    pub stream: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub latency_ms: i64,
    pub status: u16,
    pub error_type: Option<String>,
    pub created_at: i64,
}

const COLUMNS: usize = 16;
/// Rows per INSERT statement: far below both backends' parameter limits.
const ROWS_PER_STATEMENT: usize = 100;

/// Writes a batch in one transaction, many rows per statement; rows already
/// present are skipped.
pub async fn insert_batch(svc: &Services, events: &[UsageEvent]) -> Result<()> {
    let mut tx = svc.db.pool.begin().await?;
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let sql = insert_sql(svc.db.backend, chunk.len());
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(&e.request_id)
                .bind(&e.tenant_id)
                .bind(e.api_key_id.as_deref())
                .bind(&e.model)
                .bind(e.provider.as_deref())
                .bind(e.dialect)
                .bind(i64::from(e.stream))
                .bind(e.input_tokens)
                .bind(e.output_tokens)
                .bind(e.cache_read_tokens)
                .bind(e.cache_write_tokens)
                .bind(e.cost_micros)
                .bind(e.latency_ms)
                .bind(i64::from(e.status))
                .bind(e.error_type.as_deref())
                .bind(e.created_at);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// SQLite gets positional `?` markers here: with hundreds of `$N` markers
/// its driver resolves each by name, which costs quadratic time.
fn insert_sql(backend: Backend, rows: usize) -> String {
    let marker = |n: usize| match backend {
        Backend::Sqlite => "?".to_string(),
        Backend::Postgres => format!("${n}"),
    };
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=COLUMNS).map(|c| marker(r * COLUMNS + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO usage_events (request_id, tenant_id, api_key_id, model, provider, dialect, \
         stream, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, \
         latency_ms, status, error_type, created_at) VALUES {} ON CONFLICT (request_id) DO NOTHING",
        tuples.join(", ")
    )
}

#[derive(FromRow)]
struct ModelTotals {
    model: String,
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost_micros: i64,
    errors: i64,
}

/// Totals for a tenant over `[from, to)`, by model. Sums are cast so both
/// backends return integers (PostgreSQL's SUM of BIGINT is NUMERIC).
pub async fn report(
    svc: &Services,
    actor: &Actor,
    tenant_id: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<UsageReport> {
    actor.require(tenant_id, Access::Read)?;
    let rows: Vec<ModelTotals> = sqlx::query_as(
        "SELECT model, COUNT(*) AS requests, \
         CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
         CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
         CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT) AS cache_read_tokens, \
         CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT) AS cache_write_tokens, \
         CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros, \
         CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors \
         FROM usage_events WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY model ORDER BY model",
    )
    .bind(tenant_id)
    .bind(from.unwrap_or(0))
    .bind(to.unwrap_or(i64::MAX))
    .fetch_all(&svc.db.pool)
    .await?;
    let mut report = UsageReport {
        totals: UsageTotals::default(),
        by_model: BTreeMap::new(),
    };
    for r in rows {
        let t = UsageTotals {
            requests: r.requests,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cost_micros: r.cost_micros,
            errors: r.errors,
        };
        let tot = &mut report.totals;
        tot.requests += t.requests;
        tot.input_tokens += t.input_tokens;
        tot.output_tokens += t.output_tokens;
        tot.cache_read_tokens += t.cache_read_tokens;
        tot.cache_write_tokens += t.cache_write_tokens;
        tot.cost_micros += t.cost_micros;
        tot.errors += t.errors;
        report.by_model.insert(r.model, t);
    }
    Ok(report)
}

/// The current calendar month (UTC) so far: the billing period the portal shows.
pub async fn month_to_date(svc: &Services, actor: &Actor, tenant_id: &str) -> Result<UsageReport> {
    use chrono::{Datelike, TimeZone, Utc};
    let now = Utc::now();
    let from = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis());
    report(svc, actor, tenant_id, from, None).await
}

//! The usage ledger's rows in a tenant store.

use crate::domain::tenant::TenantId;
use sqlx::FromRow;

use super::store::TenantStore;
use crate::domain::completion::ErrorKind;
use crate::domain::pii::EntitySet;
use crate::domain::usage::{UsageEvent, UsageKind, UsageTotals};
use crate::server::db::{Backend, DbError};

const COLUMNS: &str = "request_id, tenant_id, api_key_id, model, provider, dialect, stream, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, \
     latency_ms, status, error_type, created_at, policy_action, classification, kind, units, price_from, \
     pii_classes, provider_region, end_user";
const COLUMN_COUNT: usize = 24;
/// The dialect column of rows that are not completions.
const NO_DIALECT: &str = "-";
/// Rows per INSERT statement: far below both backends' parameter limits.
const ROWS_PER_STATEMENT: usize = 100;

#[derive(FromRow)]
struct EventRow {
    request_id: String,
    tenant_id: TenantId,
    api_key_id: Option<String>,
    model: String,
    provider: Option<String>,
    dialect: String,
    stream: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost_micros: i64,
    latency_ms: i64,
    status: i64,
    error_type: Option<String>,
    created_at: i64,
    policy_action: String,
    classification: String,
    kind: String,
    units: i64,
    price_from: Option<i64>,
    pii_classes: i64,
    provider_region: Option<String>,
    end_user: Option<String>,
}

/// A stored value this version cannot read: the row is refused, not guessed at.
fn unreadable(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Store(format!("usage event {what}: {e}"))
}

impl TryFrom<EventRow> for UsageEvent {
    type Error = DbError;
    fn try_from(r: EventRow) -> Result<Self, DbError> {
        let kind: UsageKind = r.kind.parse().map_err(|e| unreadable("kind", e))?;
        let dialect = match kind {
            UsageKind::Completion => Some(r.dialect.parse().map_err(|e| unreadable("dialect", e))?),
            UsageKind::FlagEvaluation => None,
        };
        Ok(UsageEvent {
            request_id: r.request_id,
            tenant_id: r.tenant_id,
            api_key_id: r.api_key_id,
            kind,
            units: r.units,
            model: r.model,
            provider: r.provider,
            dialect,
            stream: r.stream != 0,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cost_micros: r.cost_micros,
            latency_ms: r.latency_ms,
            status: u16::try_from(r.status).map_err(|e| unreadable("status", e))?,
            error_type: r
                .error_type
                .map(|k| k.parse())
                .transpose()
                .map_err(|e| unreadable("error_type", e))?,
            created_at: r.created_at,
            policy_action: r
                .policy_action
                .parse()
                .map_err(|e| unreadable("policy_action", e))?,
            classification: r
                .classification
                .parse()
                .map_err(|e| unreadable("classification", e))?,
            price_from: r.price_from,
            pii_classes: EntitySet::from_bits(r.pii_classes),
            provider_region: r.provider_region,
            end_user: r.end_user,
            log: None,
        })
    }
}

#[derive(FromRow)]
pub(super) struct ModelTotals {
    model: String,
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost_micros: i64,
    errors: i64,
    evaluations: i64,
}

impl ModelTotals {
    pub(super) fn into_pair(self) -> (String, UsageTotals) {
        let t = UsageTotals {
            requests: self.requests,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens,
            cost_micros: self.cost_micros,
            errors: self.errors,
            evaluations: self.evaluations,
        };
        (self.model, t)
    }
}

impl TenantStore {
    /// Stores events of this tenant (others are refused), skipping rows
    /// already present. With `epoch`, the write commits only if the
    /// tenant's placement has not changed (see `fence`).
    pub async fn insert_usage(
        &self,
        events: &[UsageEvent],
        epoch: Option<i64>,
    ) -> Result<(), DbError> {
        if let Some(e) = events
            .iter()
            .find(|e| e.tenant_id.as_str() != self.tenant_id)
        {
            return Err(DbError::Store(format!(
                "usage event {} belongs to another tenant",
                e.request_id
            )));
        }
        let fenced = epoch.filter(|_| self.location.in_main());
        let mut tx = self.pool.begin().await?;
        if let (Some(epoch), Backend::Postgres) = (fenced, self.backend) {
            self.fence(&mut tx, epoch).await?;
        }
        self.enter(&mut tx).await?;
        let table = self.table("usage_events");
        let mut inserted = std::collections::HashSet::new();
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql(self.backend, &table, chunk.len());
            // Only full chunks are kept in the connection's statement cache:
            // a statement per odd batch length would stay there (up to the
            // cache's 100 per connection), each of hundreds of parameters
            // and hundreds of kilobytes.
            let mut q =
                sqlx::query_scalar::<_, String>(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for e in chunk {
                q = q
                    .bind(&e.request_id)
                    .bind(&e.tenant_id)
                    .bind(e.api_key_id.as_deref())
                    .bind(&e.model)
                    .bind(e.provider.as_deref())
                    .bind(e.dialect.map_or(NO_DIALECT, |d| d.as_str()))
                    .bind(i64::from(e.stream))
                    .bind(e.input_tokens)
                    .bind(e.output_tokens)
                    .bind(e.cache_read_tokens)
                    .bind(e.cache_write_tokens)
                    .bind(e.cost_micros)
                    .bind(e.latency_ms)
                    .bind(i64::from(e.status))
                    .bind(e.error_type.map(ErrorKind::as_str))
                    .bind(e.created_at)
                    .bind(e.policy_action.as_str())
                    .bind(e.classification.as_str())
                    .bind(e.kind.as_str())
                    .bind(e.units)
                    .bind(e.price_from)
                    .bind(e.pii_classes.bits())
                    .bind(e.provider_region.as_deref())
                    .bind(e.end_user.as_deref());
            }
            inserted.extend(q.fetch_all(&mut *tx).await?);
        }
        let new: Vec<&UsageEvent> = events
            .iter()
            .filter(|e| inserted.contains(&e.request_id))
            .collect();
        self.roll_up(&mut tx, &new).await?;
        self.insert_log(&mut tx, &new).await?;
        // SQLite: the insert took the write lock, so nothing can move the
        // tenant between this check and the commit.
        if let (Some(epoch), Backend::Sqlite) = (fenced, self.backend) {
            self.fence(&mut tx, epoch).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Totals over `[from, to)` by model, from the events (flag
    /// evaluations are rows of their own model, `-`, with no requests).
    /// Sums are cast so both backends return integers (PostgreSQL's SUM
    /// of BIGINT is NUMERIC). `usage_by_model` reads whole hours from the
    /// rollups instead.
    pub(super) async fn events_by_model(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageTotals)>, DbError> {
        let sql = format!(
            "SELECT model, \
             CAST(COALESCE(SUM(CASE WHEN kind = 'completion' THEN 1 ELSE 0 END), 0) AS BIGINT) AS requests, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT) AS cache_read_tokens, \
             CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT) AS cache_write_tokens, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros, \
             CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
             CAST(COALESCE(SUM(CASE WHEN kind = 'flag_evaluation' THEN units ELSE 0 END), 0) AS BIGINT) AS evaluations \
             FROM {} WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
             GROUP BY model ORDER BY model",
            self.table("usage_events")
        );
        self.totals_by_model(&sql, from, to).await
    }

    /// Runs a totals-by-model query over `[from, to)` (binds: tenant,
    /// from, to) in one of this store's transactions.
    pub(super) async fn totals_by_model(
        &self,
        sql: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, UsageTotals)>, DbError> {
        let rows: Vec<ModelTotals> = self.rows_in_period(sql, (from, to)).await?;
        Ok(rows.into_iter().map(ModelTotals::into_pair).collect())
    }

    /// Events after `after` (and up to `until`, when given) in request-id
    /// order: keyset pages for copying.
    pub async fn usage_page(
        &self,
        after: &str,
        until: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UsageEvent>, DbError> {
        self.events_after(None, (after, until), limit).await
    }

    /// Events made in `[from, to)` after request id `after`, in request-id
    /// order: keyset pages for exports of a period.
    pub async fn usage_between(
        &self,
        period: (i64, i64),
        after: &str,
        limit: i64,
    ) -> Result<Vec<UsageEvent>, DbError> {
        self.events_after(Some(period), (after, None), limit).await
    }

    /// Runs a query for events in a transaction fenced to the tenant.
    async fn events<'q>(
        &self,
        query: sqlx::query::QueryAs<'q, sqlx::Any, EventRow, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Vec<UsageEvent>, DbError> {
        let mut tx = self.begin().await?;
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.into_iter().map(UsageEvent::try_from).collect()
    }

    /// Events after a request id in request-id order, within a period when
    /// one is given (without one, the query has no time condition, so the
    /// planner walks the request-id order alone).
    async fn events_after(
        &self,
        period: Option<(i64, i64)>,
        (after, until): (&str, Option<&str>),
        limit: i64,
    ) -> Result<Vec<UsageEvent>, DbError> {
        let within = if period.is_some() {
            "AND created_at >= $5 AND created_at < $6"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE tenant_id = $1 AND request_id > $2 \
             AND ($3 IS NULL OR request_id <= $3) {within} ORDER BY request_id LIMIT $4",
            self.table("usage_events")
        );
        let mut query = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(after)
            .bind(until)
            .bind(limit);
        if let Some((from, to)) = period {
            query = query.bind(from).bind(to);
        }
        self.events(query).await
    }

    /// The newest events of a period, optionally of one key: for callers
    /// reading request by request (LiteLLM's `/spend/logs`).
    pub async fn recent_usage(
        &self,
        (from, to): (i64, i64),
        api_key_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UsageEvent>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE tenant_id = $1 AND created_at >= $2 \
             AND created_at < $3 AND ($4 IS NULL OR api_key_id = $4) \
             ORDER BY created_at DESC, request_id DESC LIMIT $5",
            self.table("usage_events")
        );
        let query = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(from)
            .bind(to)
            .bind(api_key_id);
        self.events(query.bind(limit)).await
    }

    /// The largest request id stored now: where a copy that runs beside
    /// live writes can stop (later rows reach the target by dual writes).
    pub async fn last_request_id(&self) -> Result<Option<String>, DbError> {
        let sql = format!(
            "SELECT MAX(request_id) FROM {} WHERE tenant_id = $1",
            self.table("usage_events")
        );
        let mut tx = self.begin().await?;
        let last: Option<String> = sqlx::query_scalar(&sql)
            .bind(&self.tenant_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(last)
    }

    /// Deletes this tenant's rows (row level erasure); returns how many.
    pub(super) async fn delete_rows(&self) -> Result<u64, DbError> {
        let mut tx = self.begin().await?;
        let mut removed = 0;
        for table in super::schema::TABLES {
            let sql = format!("DELETE FROM {} WHERE tenant_id = $1", self.table(table));
            removed += sqlx::query(&sql)
                .bind(&self.tenant_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }
}

fn insert_sql(backend: Backend, table: &str, rows: usize) -> String {
    format!(
        "INSERT INTO {table} ({COLUMNS}) VALUES {} ON CONFLICT (request_id) DO NOTHING \
         RETURNING request_id",
        backend.value_tuples(COLUMN_COUNT, rows)
    )
}

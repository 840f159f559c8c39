//! The request log's rows and its subject index in a tenant store: written
//! with the ledger rows they describe, read and erased by subject hash.

use sqlx::FromRow;

use super::store::{TenantStore, Tx};
use crate::domain::pii::EntitySet;
use crate::domain::request_log::{LogEntry, LoggedRequest};
use crate::domain::usage::UsageEvent;
use crate::server::db::DbError;

/// Hashes looked up per statement, and rows per insert.
const CHUNK: usize = 50;
/// The most rows an access request returns; a subject with more is told so.
pub const MAX_ACCESS_ROWS: i64 = 100_000;

#[derive(FromRow)]
struct LoggedRow {
    request_id: String,
    created_at: i64,
    api_key_id: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    provider_region: Option<String>,
    pii_classes: Option<i64>,
    policy_action: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    status: Option<i64>,
    mode: String,
    prompt: String,
    response: String,
    prompt_bytes: i64,
    response_bytes: i64,
}

impl LoggedRow {
    fn into_logged(self) -> Result<LoggedRequest, DbError> {
        Ok(LoggedRequest {
            pii_classes: EntitySet::from_bits(self.pii_classes.unwrap_or(0))
                .types()
                .map(|t| t.as_str().to_string())
                .collect(),
            mode: self
                .mode
                .parse()
                .map_err(|e| DbError::Store(format!("request log mode: {e}")))?,
            request_id: self.request_id,
            created_at: self.created_at,
            api_key_id: self.api_key_id,
            model: self.model.unwrap_or_default(),
            provider: self.provider,
            provider_region: self.provider_region,
            policy_action: self.policy_action.unwrap_or_default(),
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            status: self.status.unwrap_or(0),
            prompt: self.prompt,
            response: self.response,
            prompt_bytes: self.prompt_bytes,
            response_bytes: self.response_bytes,
        })
    }
}

#[derive(FromRow)]
struct PageRow {
    request_id: String,
    created_at: i64,
    mode: String,
    prompt: String,
    response: String,
    prompt_bytes: i64,
    response_bytes: i64,
}

impl PageRow {
    fn into_entry(self, subjects: Vec<String>) -> Result<(String, i64, LogEntry), DbError> {
        let mode = self
            .mode
            .parse()
            .map_err(|e| DbError::Store(format!("request log mode: {e}")))?;
        let entry = LogEntry {
            mode,
            prompt: self.prompt,
            response: self.response,
            prompt_bytes: self.prompt_bytes,
            response_bytes: self.response_bytes,
            subjects,
        };
        Ok((self.request_id, self.created_at, entry))
    }
}

/// `$first, $first+1, …` for `n` values.
fn markers(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl TenantStore {
    /// Writes the log rows of newly stored events, in the ledger's transaction.
    pub(super) async fn insert_log(&self, tx: &mut Tx, new: &[&UsageEvent]) -> Result<(), DbError> {
        for e in new {
            if let Some(l) = e.log.as_deref() {
                self.insert_log_row(tx, &e.request_id, e.created_at, l)
                    .await?;
            }
        }
        Ok(())
    }

    async fn insert_log_row(
        &self,
        tx: &mut Tx,
        request_id: &str,
        created_at: i64,
        l: &LogEntry,
    ) -> Result<(), DbError> {
        let (log, subjects) = (
            self.table("request_log"),
            self.table("request_log_subjects"),
        );
        sqlx::query(&format!(
            "INSERT INTO {log} (request_id, tenant_id, created_at, mode, prompt, response, \
             prompt_bytes, response_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (request_id) DO NOTHING"
        ))
        .bind(request_id)
        .bind(&self.tenant_id)
        .bind(created_at)
        .bind(l.mode.as_str())
        .bind(&l.prompt)
        .bind(&l.response)
        .bind(l.prompt_bytes)
        .bind(l.response_bytes)
        .execute(&mut **tx)
        .await?;
        for s in &l.subjects {
            sqlx::query(&format!(
                "INSERT INTO {subjects} (tenant_id, subject, request_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
            ))
            .bind(&self.tenant_id)
            .bind(s)
            .bind(request_id)
            .bind(created_at)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Copies log rows after `after` (request-id order) to `target`, one
    /// page; returns the last id copied. For isolation moves: rows written
    /// during the move reach the target by dual writes.
    pub(super) async fn copy_log_page(
        &self,
        target: &TenantStore,
        after: &str,
        limit: i64,
    ) -> Result<Option<String>, DbError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT request_id, created_at, mode, prompt, response, prompt_bytes, response_bytes \
             FROM {} WHERE tenant_id = $1 AND request_id > $2 ORDER BY request_id LIMIT $3",
            self.table("request_log")
        );
        let rows: Vec<PageRow> = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last().map(|r| r.request_id.clone()) else {
            tx.commit().await?;
            return Ok(None);
        };
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let sql = format!(
                "SELECT subject FROM {} WHERE tenant_id = $1 AND request_id = $2",
                self.table("request_log_subjects")
            );
            let subjects: Vec<String> = sqlx::query_scalar(&sql)
                .bind(&self.tenant_id)
                .bind(&r.request_id)
                .fetch_all(&mut *tx)
                .await?;
            entries.push(r.into_entry(subjects)?);
        }
        tx.commit().await?;
        let mut out = target.begin().await?;
        for (id, at, entry) in &entries {
            target.insert_log_row(&mut out, id, *at, entry).await?;
        }
        out.commit().await?;
        Ok(Some(last))
    }

    /// Request ids indexed under any of `hashes`, made in `[from, to)`.
    async fn subject_requests(
        &self,
        tx: &mut Tx,
        hashes: &[String],
        (from, to): (i64, i64),
    ) -> Result<Vec<String>, DbError> {
        let table = self.table("request_log_subjects");
        let mut ids = Vec::new();
        for chunk in hashes.chunks(CHUNK) {
            let sql = format!(
                "SELECT request_id FROM {table} WHERE tenant_id = $1 AND created_at >= $2 \
                 AND created_at < $3 AND subject IN ({}) ORDER BY request_id LIMIT {MAX_ACCESS_ROWS}",
                markers(4, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql)
                .bind(&self.tenant_id)
                .bind(from)
                .bind(to);
            for h in chunk {
                q = q.bind(h);
            }
            ids.extend(q.fetch_all(&mut **tx).await?);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Every logged request indexed under `hashes` in `[from, to)`, with
    /// its ledger row, in request-id order.
    pub async fn logged_for(
        &self,
        hashes: &[String],
        period: (i64, i64),
    ) -> Result<Vec<LoggedRequest>, DbError> {
        let mut tx = self.begin().await?;
        let ids = self.subject_requests(&mut tx, hashes, period).await?;
        let (log, usage) = (self.table("request_log"), self.table("usage_events"));
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT r.request_id, r.created_at, u.api_key_id, u.model, u.provider, \
                 u.provider_region, u.pii_classes, u.policy_action, u.input_tokens, \
                 u.output_tokens, u.status, r.mode, r.prompt, r.response, r.prompt_bytes, \
                 r.response_bytes FROM {log} r LEFT JOIN {usage} u \
                 ON u.request_id = r.request_id AND u.tenant_id = r.tenant_id \
                 WHERE r.tenant_id = $1 AND r.request_id IN ({}) ORDER BY r.request_id",
                markers(2, chunk.len())
            );
            let mut q = sqlx::query_as::<_, LoggedRow>(&sql).bind(&self.tenant_id);
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(&mut *tx).await? {
                out.push(row.into_logged()?);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Erases what the store holds about a subject: the log rows indexed
    /// under `hashes` (with all their index entries) and the end-user id on
    /// ledger rows naming one of `end_users` (the rows stay: they bill).
    /// Returns rows removed or changed per table.
    pub async fn erase_subject(
        &self,
        hashes: &[String],
        end_users: &[String],
    ) -> Result<Vec<(String, u64)>, DbError> {
        let mut tx = self.begin().await?;
        let ids = self
            .subject_requests(&mut tx, hashes, (i64::MIN, i64::MAX))
            .await?;
        let mut counts = Vec::new();
        for table in ["request_log", "request_log_subjects"] {
            let mut n = 0;
            for chunk in ids.chunks(CHUNK) {
                let sql = format!(
                    "DELETE FROM {} WHERE tenant_id = $1 AND request_id IN ({})",
                    self.table(table),
                    markers(2, chunk.len())
                );
                let mut q = sqlx::query(&sql).bind(&self.tenant_id);
                for id in chunk {
                    q = q.bind(id);
                }
                n += q.execute(&mut *tx).await?.rows_affected();
            }
            counts.push((table.to_string(), n));
        }
        let mut cleared = 0;
        for user in end_users {
            let sql = format!(
                "UPDATE {} SET end_user = NULL WHERE tenant_id = $1 AND end_user = $2",
                self.table("usage_events")
            );
            cleared += sqlx::query(&sql)
                .bind(&self.tenant_id)
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        counts.push(("usage_events.end_user".to_string(), cleared));
        tx.commit().await?;
        Ok(counts)
    }

    /// Deletes log rows (and their index entries) made before `cutoff`.
    pub async fn purge_log_before(&self, cutoff: i64) -> Result<u64, DbError> {
        let mut tx = self.begin().await?;
        let mut removed = 0;
        // The count returned is of log rows: the index rows go with them.
        for table in ["request_log_subjects", "request_log"] {
            let sql = format!(
                "DELETE FROM {} WHERE tenant_id = $1 AND created_at < $2",
                self.table(table)
            );
            removed = sqlx::query(&sql)
                .bind(&self.tenant_id)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }
}

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
/// The most prompt and answer text an access request loads (the rest is
/// reported as truncated), so one report cannot exhaust the server's memory.
pub const MAX_ACCESS_BYTES: usize = 64 * 1024 * 1024;

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

/// Rows per multi-row INSERT: far below both backends' parameter limits.
const ROWS_PER_STATEMENT: usize = 100;

/// `$first, $first+1, …` for `n` values.
fn markers(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl TenantStore {
    /// Writes the log rows of newly stored events, in the ledger's
    /// transaction: multi-row statements, so a busy tenant's log costs a
    /// few statements per batch, not one per request and subject.
    pub(super) async fn insert_log(&self, tx: &mut Tx, new: &[&UsageEvent]) -> Result<(), DbError> {
        let rows: Vec<(&str, i64, &LogEntry)> = new
            .iter()
            .filter_map(|e| {
                e.log
                    .as_deref()
                    .map(|l| (e.request_id.as_str(), e.created_at, l))
            })
            .collect();
        self.insert_log_rows(tx, &rows).await
    }

    pub(super) async fn insert_log_rows(
        &self,
        tx: &mut Tx,
        rows: &[(&str, i64, &LogEntry)],
    ) -> Result<(), DbError> {
        let (log, subjects) = (
            self.table("request_log"),
            self.table("request_log_subjects"),
        );
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO {log} (request_id, tenant_id, created_at, mode, prompt, response, \
                 prompt_bytes, response_bytes) VALUES {} ON CONFLICT (request_id) DO NOTHING",
                self.backend.value_tuples(8, chunk.len())
            );
            // Full chunks only are cached (see `usage::insert_usage`).
            let mut q = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for (id, at, l) in chunk {
                q = q
                    .bind(*id)
                    .bind(&self.tenant_id)
                    .bind(*at)
                    .bind(l.mode.as_str())
                    .bind(&l.prompt)
                    .bind(&l.response)
                    .bind(l.prompt_bytes)
                    .bind(l.response_bytes);
            }
            q.execute(&mut **tx).await?;
        }
        let index: Vec<(&str, i64, &str)> = rows
            .iter()
            .flat_map(|(id, at, l)| l.subjects.iter().map(move |s| (*id, *at, s.as_str())))
            .collect();
        for chunk in index.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO {subjects} (tenant_id, subject, request_id, created_at) VALUES {} \
                 ON CONFLICT DO NOTHING",
                self.backend.value_tuples(4, chunk.len())
            );
            let mut q = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for (id, at, subject) in chunk {
                q = q.bind(&self.tenant_id).bind(*subject).bind(*id).bind(*at);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Request ids indexed under any of `hashes`, made in `[from, to)`.
    /// No ORDER BY: sorting by request id lets SQLite walk the request-id
    /// index over the whole tenant instead of the subject's primary key
    /// (640 ms against 6 ms over a million rows); the ids are sorted here.
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
                 AND created_at < $3 AND subject IN ({}) LIMIT {MAX_ACCESS_ROWS}",
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
    /// its ledger row, in request-id order, up to [`MAX_ACCESS_ROWS`] rows
    /// and [`MAX_ACCESS_BYTES`] of text; the flag says whether it stopped.
    pub async fn logged_for(
        &self,
        hashes: &[String],
        period: (i64, i64),
    ) -> Result<(Vec<LoggedRequest>, bool), DbError> {
        let mut tx = self.begin().await?;
        let ids = self.subject_requests(&mut tx, hashes, period).await?;
        let (log, usage) = (self.table("request_log"), self.table("usage_events"));
        let mut out = Vec::with_capacity(ids.len());
        let mut truncated = ids.len() as i64 >= MAX_ACCESS_ROWS;
        let mut bytes = 0usize;
        for chunk in ids.chunks(CHUNK) {
            if bytes >= MAX_ACCESS_BYTES {
                truncated = true;
                break;
            }
            let sql = format!(
                "SELECT r.request_id, r.created_at, u.api_key_id, u.model, u.provider, \
                 u.provider_region, u.pii_classes, u.policy_action, u.input_tokens, \
                 u.output_tokens, u.status, r.mode, r.prompt, r.response, r.prompt_bytes, \
                 r.response_bytes FROM {log} r LEFT JOIN {usage} u \
                 ON u.request_id = r.request_id AND u.tenant_id = r.tenant_id \
                 WHERE r.tenant_id || '' = $1 AND r.request_id IN ({}) ORDER BY r.request_id",
                markers(2, chunk.len())
            );
            // `tenant_id || ''` keeps the tenant check but not its index: on
            // the tenant index SQLite walks every log row of the tenant (90 ms
            // at 300k rows) instead of looking up these ids (under 1 ms).
            let mut q = sqlx::query_as::<_, LoggedRow>(&sql).bind(&self.tenant_id);
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(&mut *tx).await? {
                bytes = bytes.saturating_add(row.prompt.len() + row.response.len());
                out.push(row.into_logged()?);
            }
        }
        tx.commit().await?;
        Ok((out, truncated))
    }

    /// The providers and regions that received the subject's logged
    /// requests, with counts: for an erasure receipt, without their text.
    pub async fn recipients_for(
        &self,
        hashes: &[String],
    ) -> Result<Vec<(String, String, i64)>, DbError> {
        let mut tx = self.begin().await?;
        let mut counts: std::collections::BTreeMap<(String, String), i64> = Default::default();
        // The first MAX_ACCESS_ROWS requests: enough to name every provider
        // in practice; the receipt names them, not each request.
        let ids = self
            .subject_requests(&mut tx, hashes, (i64::MIN, i64::MAX))
            .await?;
        {
            for chunk in ids.chunks(CHUNK) {
                let sql = format!(
                    "SELECT COALESCE(provider, ''), COALESCE(provider_region, '') FROM {} \
                     WHERE tenant_id = $1 AND request_id IN ({})",
                    self.table("usage_events"),
                    markers(2, chunk.len())
                );
                let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(&self.tenant_id);
                for id in chunk {
                    q = q.bind(id);
                }
                for (p, r) in q.fetch_all(&mut *tx).await? {
                    *counts.entry((p, r)).or_default() += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(counts
            .into_iter()
            .filter(|((p, _), _)| !p.is_empty())
            .map(|((p, r), n)| (p, r, n))
            .collect())
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
        let mut removed = [0u64; 2];
        // Pages of at most MAX_ACCESS_ROWS ids, until none is left.
        loop {
            let ids = self
                .subject_requests(&mut tx, hashes, (i64::MIN, i64::MAX))
                .await?;
            if ids.is_empty() {
                break;
            }
            for (i, table) in ["request_log", "request_log_subjects"]
                .into_iter()
                .enumerate()
            {
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
                    removed[i] += q.execute(&mut *tx).await?.rows_affected();
                }
            }
        }
        let mut counts = vec![
            ("request_log".to_string(), removed[0]),
            ("request_log_subjects".to_string(), removed[1]),
        ];
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

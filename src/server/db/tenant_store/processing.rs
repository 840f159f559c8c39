//! What the ledger says about processing in a period: which providers (in
//! which regions) received requests carrying which PII classes. The record
//! of processing is built from this, never from the log's text.

use super::store::TenantStore;
use crate::server::db::DbError;

/// Requests to one provider and region with one set of PII classes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProcessingRow {
    pub provider: Option<String>,
    pub provider_region: Option<String>,
    pub pii_classes: i64,
    pub requests: i64,
}

impl TenantStore {
    /// Completions in `[from, to)` grouped by provider, region and classes.
    pub async fn processing(&self, from: i64, to: i64) -> Result<Vec<ProcessingRow>, DbError> {
        let sql = format!(
            "SELECT provider, provider_region, pii_classes, COUNT(*) AS requests FROM {} \
             WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
             AND kind = 'completion' GROUP BY provider, provider_region, pii_classes \
             ORDER BY provider, provider_region, pii_classes",
            self.table("usage_events")
        );
        self.rows_in_period(&sql, (from, to)).await
    }

    /// Log rows kept now, and the oldest: for the record's retention facts.
    pub async fn log_extent(&self) -> Result<(i64, Option<i64>), DbError> {
        let sql = format!(
            "SELECT COUNT(*), MIN(created_at) FROM {} WHERE tenant_id = $1",
            self.table("request_log")
        );
        let mut tx = self.begin().await?;
        let row: (i64, Option<i64>) = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }
}

/// One day's refusals and failures, for monitoring evidence.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayOutcomes {
    pub day: i64,
    pub requests: i64,
    pub rate_limited: i64,
    pub budget_refused: i64,
    pub policy_blocks: i64,
}

impl TenantStore {
    /// Per UTC day in `[from, to)`: requests and refusals by cause (4xx
    /// and 5xx come from the rollups).
    pub async fn daily_outcomes(&self, from: i64, to: i64) -> Result<Vec<DayOutcomes>, DbError> {
        let sql = format!(
            "SELECT created_at / 86400000 AS day, COUNT(*) AS requests, \
             CAST(SUM(CASE WHEN error_type = 'rate_limit_error' THEN 1 ELSE 0 END) AS BIGINT) AS rate_limited, \
             CAST(SUM(CASE WHEN error_type = 'budget_exceeded' THEN 1 ELSE 0 END) AS BIGINT) AS budget_refused, \
             CAST(SUM(CASE WHEN policy_action = 'block' THEN 1 ELSE 0 END) AS BIGINT) AS policy_blocks \
             FROM {} WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
             AND kind = 'completion' GROUP BY created_at / 86400000 ORDER BY day",
            self.table("usage_events")
        );
        self.rows_in_period(&sql, (from, to)).await
    }
}

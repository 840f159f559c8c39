//! What a tenant (or one of its keys) spent per UTC day: what budgets are
//! loaded from when a process first needs them, and what they report.

use crate::domain::budget::Day;
use crate::domain::pricing::Micros;
use crate::domain::time::DAY;
use crate::server::db::DbError;

use super::store::TenantStore;

impl TenantStore {
    /// Spend per day in `[first, last]`, for the whole tenant or one key.
    /// Days with nothing spent are absent.
    pub async fn spend_by_day(
        &self,
        (first, last): (Day, Day),
        api_key_id: Option<&str>,
    ) -> Result<Vec<(Day, Micros)>, DbError> {
        // From the hourly rollups, written with the events: never a scan
        // of the raw ledger, however large it grows.
        let sql = format!(
            "SELECT CAST(hour / {DAY} AS BIGINT) AS day, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spent \
             FROM {} WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 \
             AND ($4 IS NULL OR api_key_id = $4) GROUP BY day ORDER BY day",
            self.table("usage_hourly")
        );
        let mut tx = self.begin().await?;
        let rows: Vec<(i64, i64)> = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(first * DAY)
            .bind((last + 1) * DAY)
            .bind(api_key_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

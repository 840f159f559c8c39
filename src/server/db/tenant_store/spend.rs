//! What a tenant (or one of its keys) spent per UTC day: what budgets are
//! loaded from when a process first needs them, and what they report.

use std::collections::BTreeMap;

use crate::domain::budget::Day;
use crate::domain::pricing::Micros;
use crate::domain::time::DAY;
use crate::server::db::DbError;

use super::store::TenantStore;

/// Key ids per query: well under either database's bind limit.
const KEYS_PER_QUERY: usize = 500;

impl TenantStore {
    /// Spend per day in `[first, last]`, for the whole tenant (`None`) or
    /// the keys named (a key and the keys it was rotated from). Days with
    /// nothing spent are absent; sums saturate rather than wrap.
    pub async fn spend_by_day(
        &self,
        days: (Day, Day),
        api_key_ids: Option<&[String]>,
    ) -> Result<Vec<(Day, Micros)>, DbError> {
        let Some(keys) = api_key_ids else {
            return self.spend_of(days, &[]).await;
        };
        let mut by_day: BTreeMap<Day, Micros> = BTreeMap::new();
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            for (day, spent) in self.spend_of(days, chunk).await? {
                let sum = by_day.entry(day).or_insert(0);
                *sum = sum.saturating_add(spent);
            }
        }
        Ok(by_day.into_iter().collect())
    }

    /// One query: the whole tenant when `keys` is empty.
    async fn spend_of(
        &self,
        (first, last): (Day, Day),
        keys: &[String],
    ) -> Result<Vec<(Day, Micros)>, DbError> {
        // From the hourly rollups, written with the events: never a scan
        // of the raw ledger, however large it grows.
        let of_keys = if keys.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 4)).collect();
            format!("AND api_key_id IN ({})", marks.join(", "))
        };
        let sql = format!(
            "SELECT CAST(hour / {DAY} AS BIGINT) AS day, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS spent \
             FROM {} WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 \
             {of_keys} GROUP BY day ORDER BY day",
            self.table("usage_hourly")
        );
        let mut q = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(first * DAY)
            .bind((last + 1) * DAY);
        for k in keys {
            q = q.bind(k);
        }
        let mut tx = self.begin().await?;
        let rows: Vec<(i64, i64)> = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }
}

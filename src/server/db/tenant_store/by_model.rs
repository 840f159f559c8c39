//! Totals by model over any window: whole hours from the hourly rollups,
//! and only the ragged edges (a window cut at a price change inside an
//! hour) from the events. An invoice or a usage report so reads a few
//! rows per hour rather than every event of the month, and gets the same
//! sums, since the rollups are written in the events' transaction.

use std::collections::BTreeMap;

use super::store::TenantStore;
use crate::domain::time::{Millis, HOUR};
use crate::domain::usage::UsageTotals;
use crate::server::db::DbError;

impl TenantStore {
    /// Totals over `[from, to)` by model (flag evaluations are rows of
    /// their own model, `-`, with no requests).
    pub async fn usage_by_model(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(String, UsageTotals)>, DbError> {
        let (lo, hi) = whole_hours(from, to);
        if lo >= hi {
            return self.events_by_model(from, to).await;
        }
        let mut by: BTreeMap<String, UsageTotals> = BTreeMap::new();
        let parts = [
            self.events_by_model(from, lo).await?,
            self.rollup_by_model(lo, hi).await?,
            self.events_by_model(hi, to).await?,
        ];
        for (model, t) in parts.into_iter().flatten() {
            by.entry(model).or_default().add(&t);
        }
        Ok(by.into_iter().collect())
    }

    async fn rollup_by_model(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<(String, UsageTotals)>, DbError> {
        let sum =
            |c: &str, alias: &str| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {alias}");
        let columns = [
            ("requests", "requests"),
            ("input_tokens", "input_tokens"),
            ("output_tokens", "output_tokens"),
            ("cache_read_tokens", "cache_read_tokens"),
            ("cache_write_tokens", "cache_write_tokens"),
            ("cost_micros", "cost_micros"),
            ("errors", "errors"),
            // Only flag evaluations count units.
            ("units", "evaluations"),
        ]
        .map(|(c, a)| sum(c, a))
        .join(", ");
        let sql = format!(
            "SELECT model, {columns} FROM {} WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 \
             GROUP BY model ORDER BY model",
            self.table("usage_hourly")
        );
        self.totals_by_model(&sql, from, to).await
    }
}

/// The whole hours inside `[from, to)`: `(first hour start, end of the
/// last)`; empty (`lo >= hi`) when the window holds no whole hour.
fn whole_hours(from: Millis, to: Millis) -> (Millis, Millis) {
    let lo = from
        .div_euclid(HOUR)
        .saturating_add(i64::from(from.rem_euclid(HOUR) != 0));
    (
        lo.saturating_mul(HOUR),
        to.div_euclid(HOUR).saturating_mul(HOUR),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hours_are_those_inside_the_window() {
        assert_eq!(whole_hours(0, 3 * HOUR), (0, 3 * HOUR));
        assert_eq!(whole_hours(1, 3 * HOUR - 1), (HOUR, 2 * HOUR));
        let (lo, hi) = whole_hours(HOUR + 5, 2 * HOUR - 5);
        assert!(lo >= hi, "no whole hour");
        let (lo, hi) = whole_hours(0, i64::MAX);
        assert!(lo == 0 && hi > lo, "open-ended windows do not overflow");
    }
}

//! Hourly rollups of the ledger (`usage_hourly`): upserted in the same
//! transaction as the events they count (only events actually inserted,
//! so a re-sent batch counts once), rebuilt from the events on demand, and
//! read by the dashboards instead of the raw events.

use std::collections::BTreeMap;

use sqlx::FromRow;

use super::schema::{render, ROLLUP_FROM_EVENTS};
use super::store::{TenantStore, Tx};
use crate::domain::time::{Millis, HOUR};
use crate::domain::usage::{UsageEvent, UsageKind};
use crate::server::db::DbError;

/// One hour of one model and key, as the ledger writer adds to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct HourRow {
    pub hour: i64,
    pub model: String,
    pub api_key_id: String,
    pub requests: i64,
    pub errors: i64,
    pub server_errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub units: i64,
}

impl HourRow {
    fn add(&mut self, e: &UsageEvent) {
        self.requests += i64::from(e.kind == UsageKind::Completion);
        self.errors += i64::from(e.status >= 400);
        self.server_errors += i64::from(e.status >= 500);
        self.input_tokens += e.input_tokens;
        self.output_tokens += e.output_tokens;
        self.cache_read_tokens += e.cache_read_tokens;
        self.cache_write_tokens += e.cache_write_tokens;
        self.cost_micros += e.cost_micros;
        self.units += e.units;
    }
}

const COLUMNS: &str = "hour, model, api_key_id, requests, errors, server_errors, input_tokens, \
     output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, units";

impl TenantStore {
    /// Adds `inserted` (events this transaction just stored) to their hours.
    pub(super) async fn roll_up(
        &self,
        tx: &mut Tx,
        inserted: &[&UsageEvent],
    ) -> Result<(), DbError> {
        let mut hours: BTreeMap<(i64, &str, &str), HourRow> = BTreeMap::new();
        for e in inserted {
            let key = (
                e.created_at.div_euclid(HOUR) * HOUR,
                e.model.as_str(),
                e.api_key_id.as_deref().unwrap_or(""),
            );
            hours.entry(key).or_default().add(e);
        }
        let t = self.table("usage_hourly");
        let sum = |c: &str| format!("{c} = {t}.{c} + excluded.{c}");
        let sql = format!(
            "INSERT INTO {t} (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (tenant_id, hour, model, api_key_id) DO UPDATE SET {}",
            ["requests", "errors", "server_errors", "input_tokens", "output_tokens", "cache_read_tokens",
             "cache_write_tokens", "cost_micros", "units"].map(sum).join(", ")
        );
        for ((hour, model, key), r) in hours {
            sqlx::query(&sql)
                .bind(&self.tenant_id)
                .bind(hour)
                .bind(model)
                .bind(key)
                .bind(r.requests)
                .bind(r.errors)
                .bind(r.server_errors)
                .bind(r.input_tokens)
                .bind(r.output_tokens)
                .bind(r.cache_read_tokens)
                .bind(r.cache_write_tokens)
                .bind(r.cost_micros)
                .bind(r.units)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Recomputes every rollup of this tenant from its events; returns the
    /// number of hour rows.
    pub async fn rebuild_rollups(&self) -> Result<u64, DbError> {
        let mut tx = self.begin().await?;
        let t = self.table("usage_hourly");
        sqlx::query(&format!("DELETE FROM {t} WHERE tenant_id = $1"))
            .bind(&self.tenant_id)
            .execute(&mut *tx)
            .await?;
        let insert = render(ROLLUP_FROM_EVENTS, |n| self.table(n)).replace(
            "GROUP BY tenant_id",
            "WHERE tenant_id = $1 GROUP BY tenant_id",
        );
        let rows = sqlx::query(&insert)
            .bind(&self.tenant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(rows)
    }
}

/// A day's totals for one model, summed from its hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow)]
pub struct DayRow {
    pub day: i64,
    pub model: String,
    pub requests: i64,
    pub errors: i64,
    /// Of `errors`, those of 500 and up (monitoring counts them apart).
    pub server_errors: i64,
    pub tokens: i64,
    pub cost_micros: i64,
}

impl TenantStore {
    /// Per day and model in `[from, to)` (`by_hour`: per hour instead),
    /// optionally of one model or key: the database sums, so a dashboard
    /// reads a few hundred rows whatever the ledger's size.
    pub async fn rollup_totals(
        &self,
        (from, to): (Millis, Millis),
        by_hour: bool,
        model: Option<&str>,
        api_key_id: Option<&str>,
    ) -> Result<Vec<DayRow>, DbError> {
        let bucket = if by_hour {
            HOUR
        } else {
            crate::domain::time::DAY
        };
        let sql = format!(
            "SELECT CAST((hour / {bucket}) * {bucket} AS BIGINT) AS day, model, \
             CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(errors) AS BIGINT) AS errors, \
             CAST(SUM(server_errors) AS BIGINT) AS server_errors, \
             CAST(SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens) AS BIGINT) AS tokens, \
             CAST(SUM(cost_micros) AS BIGINT) AS cost_micros \
             FROM {} WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 \
             AND ($4 IS NULL OR model = $4) AND ($5 IS NULL OR api_key_id = $5) \
             GROUP BY (hour / {bucket}) * {bucket}, model ORDER BY day",
            self.table("usage_hourly")
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(from)
            .bind(to)
            .bind(model)
            .bind(api_key_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

//! The tables of a tenant store, as versioned migrations. Version n is
//! `MIGRATIONS[n - 1]`. `{t}` stands for a table's name in that store (a
//! prefix in a SQLite namespace, plain elsewhere).
//!
//! The shared row-level tables get the same changes from
//! `migrations/{sqlite,postgres}`: a change here needs its twin there.

pub const MIGRATIONS: &[&[&str]] = &[V1, V2, V3, V4, V5, V6, V7, V8];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Tables holding tenant data, for counts, sizes and erasure.
pub const TABLES: &[&str] = &[
    "usage_events",
    "usage_hourly",
    "request_log",
    "request_log_subjects",
];

const V1: &[&str] = &[
    "CREATE TABLE {t:usage_events} (
        request_id         TEXT PRIMARY KEY,
        tenant_id          TEXT NOT NULL,
        api_key_id         TEXT,
        model              TEXT NOT NULL,
        provider           TEXT,
        dialect            TEXT NOT NULL,
        stream             BIGINT NOT NULL,
        input_tokens       BIGINT NOT NULL,
        output_tokens      BIGINT NOT NULL,
        cache_read_tokens  BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        cost_micros        BIGINT NOT NULL,
        latency_ms         BIGINT NOT NULL,
        status             BIGINT NOT NULL,
        error_type         TEXT,
        created_at         BIGINT NOT NULL
    )",
    "CREATE INDEX {t:usage_events}_tenant ON {t:usage_events}(tenant_id, created_at)",
];

/// Governance on the ledger (twin of migrations/*/0004_governance.sql).
const V2: &[&str] = &[
    "ALTER TABLE {t:usage_events} ADD COLUMN policy_action TEXT NOT NULL DEFAULT 'allow'",
    "ALTER TABLE {t:usage_events} ADD COLUMN classification TEXT NOT NULL DEFAULT 'public'",
];

/// Usage of other kinds than completions: OFREP flag evaluations (twin of
/// migrations/*/0009_usage_kind.sql).
const V3: &[&str] = &[
    "ALTER TABLE {t:usage_events} ADD COLUMN kind TEXT NOT NULL DEFAULT 'completion'",
    "ALTER TABLE {t:usage_events} ADD COLUMN units BIGINT NOT NULL DEFAULT 0",
];

/// Hourly rollups of the ledger per model and key, written with the events
/// (twin of migrations/*/0014_usage_hourly.sql); dashboards read these,
/// never the raw events.
const V4: &[&str] = &[
    "CREATE TABLE {t:usage_hourly} (
        tenant_id          TEXT NOT NULL,
        hour               BIGINT NOT NULL,
        model              TEXT NOT NULL,
        api_key_id         TEXT NOT NULL,
        requests           BIGINT NOT NULL,
        errors             BIGINT NOT NULL,
        input_tokens       BIGINT NOT NULL,
        output_tokens      BIGINT NOT NULL,
        cache_read_tokens  BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL,
        cost_micros        BIGINT NOT NULL,
        units              BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, hour, model, api_key_id)
    )",
    ROLLUP_FROM_EVENTS_V4,
];

/// The price version each row was priced with, by the moment it took
/// effect (twin of migrations/*/0022_usage_price_version.sql): an invoice
/// or an auditor can tell which version priced a request without
/// re-resolving it through today's catalog. None on older rows.
const V5: &[&str] = &["ALTER TABLE {t:usage_events} ADD COLUMN price_from BIGINT"];

/// What compliance reports need per request (twin of
/// migrations/*/0025_ledger_compliance.sql): the PII classes detected (a
/// bitmask of `EntityType`), the provider's region, the client's end user.
const V6: &[&str] = &[
    "ALTER TABLE {t:usage_events} ADD COLUMN pii_classes BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE {t:usage_events} ADD COLUMN provider_region TEXT",
    "ALTER TABLE {t:usage_events} ADD COLUMN end_user TEXT",
];

/// The opt-in request log and its subject index (twin of
/// migrations/*/0026_request_log.sql): the prompt and response after the
/// tenant's redaction (or their SHA-256s), and keyed hashes of the
/// identifiers found in them, so a subject is found without storing
/// identifiers in clear.
const V7: &[&str] = &[
    "CREATE TABLE {t:request_log} (
        request_id     TEXT PRIMARY KEY,
        tenant_id      TEXT NOT NULL,
        created_at     BIGINT NOT NULL,
        mode           TEXT NOT NULL,
        prompt         TEXT NOT NULL,
        response       TEXT NOT NULL,
        prompt_bytes   BIGINT NOT NULL,
        response_bytes BIGINT NOT NULL
    )",
    "CREATE INDEX {t:request_log}_tenant ON {t:request_log}(tenant_id, created_at)",
    "CREATE TABLE {t:request_log_subjects} (
        tenant_id  TEXT NOT NULL,
        subject    TEXT NOT NULL,
        request_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, subject, request_id)
    )",
    "CREATE INDEX {t:request_log_subjects}_request ON {t:request_log_subjects}(tenant_id, request_id)",
];

/// 5xx counted apart from 4xx in the rollups (twin of
/// migrations/*/0029_rollup_server_errors.sql), for monitoring evidence:
/// `errors` keeps every status of 400 and up, `server_errors` those of 500
/// and up. Existing hours are backfilled from the events.
const V8: &[&str] = &[
    "ALTER TABLE {t:usage_hourly} ADD COLUMN server_errors BIGINT NOT NULL DEFAULT 0",
    "UPDATE {t:usage_hourly} SET server_errors = (SELECT COUNT(*) FROM {t:usage_events} e \
     WHERE e.tenant_id = {t:usage_hourly}.tenant_id AND e.status >= 500 \
     AND (e.created_at / 3600000) * 3600000 = {t:usage_hourly}.hour \
     AND e.model = {t:usage_hourly}.model AND COALESCE(e.api_key_id, '') = {t:usage_hourly}.api_key_id)",
];

/// Every rollup row from the events: the rebuild.
pub const ROLLUP_FROM_EVENTS: &str = "INSERT INTO {t:usage_hourly} (tenant_id, hour, model, \
     api_key_id, requests, errors, server_errors, input_tokens, output_tokens, cache_read_tokens, \
     cache_write_tokens, cost_micros, units) \
     SELECT tenant_id, (created_at / 3600000) * 3600000, model, COALESCE(api_key_id, ''), \
     SUM(CASE WHEN kind = 'completion' THEN 1 ELSE 0 END), \
     SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(CASE WHEN status >= 500 THEN 1 ELSE 0 END), \
     SUM(input_tokens), SUM(output_tokens), \
     SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(units) \
     FROM {t:usage_events} GROUP BY tenant_id, (created_at / 3600000) * 3600000, model, \
     COALESCE(api_key_id, '')";

/// The backfill as migration 4 ran it, before `server_errors` existed.
const ROLLUP_FROM_EVENTS_V4: &str = "INSERT INTO {t:usage_hourly} (tenant_id, hour, model, \
     api_key_id, requests, errors, input_tokens, output_tokens, cache_read_tokens, \
     cache_write_tokens, cost_micros, units) \
     SELECT tenant_id, (created_at / 3600000) * 3600000, model, COALESCE(api_key_id, ''), \
     SUM(CASE WHEN kind = 'completion' THEN 1 ELSE 0 END), \
     SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens), \
     SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(units) \
     FROM {t:usage_events} GROUP BY tenant_id, (created_at / 3600000) * 3600000, model, \
     COALESCE(api_key_id, '')";

/// Replaces each `{t:name}` with `table(name)`.
pub fn render(sql: &str, table: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    while let Some(start) = rest.find("{t:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&table(&after[..end]));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data map lists every table a tenant store creates, and
    /// `TABLES` (counts, moves, erasure) names exactly those.
    #[test]
    fn every_tenant_table_is_in_the_data_map() {
        use crate::domain::data_map::{in_store, Store};
        let mut created: Vec<&str> = MIGRATIONS
            .iter()
            .flat_map(|v| v.iter())
            .filter_map(|sql| sql.trim().strip_prefix("CREATE TABLE {t:"))
            .filter_map(|rest| rest.split('}').next())
            .collect();
        created.sort_unstable();
        let mut mapped: Vec<&str> = in_store(Store::Tenant).map(|t| t.name).collect();
        mapped.sort_unstable();
        assert_eq!(
            created, mapped,
            "a tenant-store table missing from domain/data_map.rs"
        );
        let mut tables = TABLES.to_vec();
        tables.sort_unstable();
        assert_eq!(tables, mapped, "schema::TABLES and the data map disagree");
    }

    #[test]
    fn renders_prefixed_and_plain_names() {
        let sql = "CREATE INDEX {t:usage_events}_tenant ON {t:usage_events}(tenant_id)";
        assert_eq!(
            render(sql, |n| format!("t_ab_{n}")),
            "CREATE INDEX t_ab_usage_events_tenant ON t_ab_usage_events(tenant_id)"
        );
        assert_eq!(
            render(sql, str::to_string),
            "CREATE INDEX usage_events_tenant ON usage_events(tenant_id)"
        );
    }
}

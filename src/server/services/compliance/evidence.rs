//! SOC 2 evidence for a period, for the platform or one tenant: access
//! (CC6.1-6.3: users, leavers, keys, dormant accounts, access reviews),
//! MFA, monitoring (CC7.2: weekly refusals and failures), change (CC8.1:
//! every control-plane change), audit integrity and access transparency.
//! The body is one JSON document; its tables also go out as CSVs in a zip.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::audit_turns::Lane;
use super::super::{access_reviews, audit_anchor, audit_chain, mfa, Actor, Result, Services};
use crate::domain::compliance::Period;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time::{rfc3339, DAY, HOUR};
use crate::server::db::tenant_store::DayOutcomes;

/// Accounts and keys unused this long are dormant.
const DORMANT: i64 = 90 * DAY;
/// A leaver's access must end within this of their leaving date.
const LEAVER_GRACE: i64 = 24 * HOUR;
const MAX_ROWS: i64 = 10_000;

type UserRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

type KeyRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

async fn users(svc: &Services, tenant: Option<&TenantId>) -> Result<Vec<UserRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, email, role, tenant_id, created_by, created_at, last_sign_in_at, \
         password_changed_at, mfa_enabled_at, disabled_at, left_at FROM users \
         WHERE $1 IS NULL OR tenant_id = $1 ORDER BY email LIMIT {MAX_ROWS}"
    ))
    .bind(tenant)
    .fetch_all(&svc.db.pool)
    .await?)
}

/// CC6.1-6.3 and MFA.
async fn access(
    svc: &Services,
    actor: &Actor,
    tenant: Option<&TenantId>,
    p: &Period,
) -> Result<Value> {
    let now = p.to;
    let rows = users(svc, tenant).await?;
    let days = |ms: i64| ms / DAY;
    let user_rows: Vec<Value> = rows
        .iter()
        .map(|u| {
            json!({
                "id": u.0, "email": u.1, "role": u.2, "tenant_id": u.3, "created_by": u.4,
                "created_at": rfc3339(u.5), "last_sign_in_at": u.6.map(rfc3339),
                "password_age_days": u.7.map(|c| days(now - c)), "mfa": u.8.is_some(),
                "disabled_at": u.9.map(rfc3339), "left_at": u.10.map(rfc3339),
            })
        })
        .collect();
    let leavers: Vec<Value> = rows
        .iter()
        .filter(|u| u.10.is_some_and(|l| l >= p.from && l < p.to))
        .map(|u| {
            let left = u.10.unwrap_or_default();
            let ended = u.9;
            let on_time = ended.is_some_and(|e| e - left <= LEAVER_GRACE);
            json!({ "id": u.0, "email": u.1, "left_at": rfc3339(left),
                    "access_ended_at": ended.map(rfc3339),
                    "hours_to_end": ended.map(|e| (e - left) / HOUR), "on_time": on_time })
        })
        .collect();
    let dormant_users: Vec<Value> = rows
        .iter()
        .filter(|u| u.9.is_none() && now - u.6.unwrap_or(u.5) > DORMANT)
        .map(|u| json!({ "kind": "user", "id": u.0, "label": u.1, "last_used": u.6.map(rfc3339) }))
        .collect();
    let keys: Vec<KeyRow> = sqlx::query_as(&format!(
        "SELECT id, tenant_id, name, prefix, created_by, created_at, last_used_at, \
             expires_at, revoked_at FROM api_keys WHERE $1 IS NULL OR tenant_id = $1 \
             ORDER BY tenant_id, name LIMIT {MAX_ROWS}"
    ))
    .bind(tenant)
    .fetch_all(&svc.db.pool)
    .await?;
    let key_rows: Vec<Value> = keys.iter().map(|k| json!({
        "id": k.0, "tenant_id": k.1, "name": k.2, "prefix": k.3, "created_by": k.4,
        "created_at": rfc3339(k.5), "age_days": days(now - k.5), "last_used_at": k.6.map(rfc3339),
        "expires_at": k.7.map(rfc3339), "revoked_at": k.8.map(rfc3339),
    })).collect();
    let dormant_keys = keys.iter()
        .filter(|k| k.8.is_none() && now - k.6.unwrap_or(k.5) > DORMANT)
        .map(|k| json!({ "kind": "api_key", "id": k.0, "label": k.2, "last_used": k.6.map(rfc3339) }));
    let reviews: Vec<Value> = access_reviews::list(svc, actor, tenant)
        .await?
        .into_iter()
        .filter(|r| r.started_at < p.to && r.closed_at.is_none_or(|c| c >= p.from))
        .map(|r| {
            let count = |d: &str| {
                r.items
                    .iter()
                    .filter(|i| i.decision.map(|x| x.as_str()) == Some(d))
                    .count()
            };
            json!({ "id": r.id, "started_at": rfc3339(r.started_at), "started_by": r.started_by,
                    "closed_at": r.closed_at.map(rfc3339), "items": r.items.len(),
                    "kept": count("keep"), "revoked": count("revoke"), "waiting": r.waiting() })
        })
        .collect();
    let required: Vec<&str> = mfa::required_roles(svc)
        .await?
        .iter()
        .map(|r| r.as_str())
        .collect();
    Ok(json!({
        "users": user_rows, "leavers": leavers, "api_keys": key_rows,
        "dormant": dormant_users.into_iter().chain(dormant_keys).collect::<Vec<_>>(),
        "access_reviews": reviews,
        "mfa": { "required_roles": required,
                 "enrolled": rows.iter().filter(|u| u.8.is_some()).map(|u| u.1.clone()).collect::<Vec<_>>() },
    }))
}

/// CC7.2: per ISO week, refusals and failures from the ledger, and
/// sign-in failures and throttles from the audit trail.
async fn monitoring(
    svc: &Services,
    tenants: &[Tenant],
    tenant: Option<&TenantId>,
    p: &Period,
) -> Result<Vec<Value>> {
    let mut weeks: BTreeMap<String, [i64; 8]> = BTreeMap::new();
    let week = |day: i64| {
        chrono::DateTime::from_timestamp_millis(day * DAY)
            .map(|d| {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            })
            .unwrap_or_default()
    };
    use chrono::Datelike;
    for t in tenants {
        let store = svc.stores.open(&t.id).await?;
        for d in store.daily_outcomes(p.from, p.to).await? {
            let DayOutcomes {
                day,
                requests,
                rate_limited,
                budget_refused,
                policy_blocks,
            } = d;
            let w = weeks.entry(week(day)).or_default();
            for (i, n) in [requests, rate_limited, budget_refused, policy_blocks]
                .into_iter()
                .enumerate()
            {
                w[i] += n;
            }
        }
        // 4xx and 5xx from the hourly rollups, which count them apart.
        for d in store
            .rollup_totals((p.from, p.to), false, None, None)
            .await?
        {
            let w = weeks.entry(week(d.day / DAY)).or_default();
            w[4] += d.errors - d.server_errors;
            w[5] += d.server_errors;
        }
    }
    let sign_ins: Vec<(i64, String)> = sqlx::query_as(
        "SELECT at, status FROM audit_events WHERE action = 'auth.sign_in' AND status <> 'success' \
         AND at >= $1 AND at < $2 AND ($3 IS NULL OR tenant_id = $3)",
    )
    .bind(p.from).bind(p.to).bind(tenant)
    .fetch_all(&svc.db.pool).await?;
    for (at, status) in sign_ins {
        let w = weeks.entry(week(at / DAY)).or_default();
        w[if status == "denied" { 7 } else { 6 }] += 1;
    }
    Ok(weeks
        .into_iter()
        .map(|(week, n)| {
            json!({
                "week": week, "requests": n[0], "rate_limited": n[1], "budget_refused": n[2],
                "policy_blocks": n[3], "client_errors_4xx": n[4], "server_errors_5xx": n[5],
                "sign_in_failures": n[6], "sign_in_throttled": n[7],
            })
        })
        .collect())
}

/// Audit events of some actions in the period, in the scope.
async fn events(
    svc: &Services,
    tenant: Option<&TenantId>,
    p: &Period,
    data_reads: bool,
) -> Result<Vec<Value>> {
    let filter = if data_reads {
        "action = 'data.read'"
    } else {
        "action NOT IN ('auth.sign_in', 'auth.sign_out', 'policy.block', 'policy.redact', \
         'policy.flag', 'data.read', 'budget.alert')"
    };
    let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT at, actor, action, resource_type, resource_id FROM audit_events \
         WHERE {filter} AND at >= $1 AND at < $2 AND ($3 IS NULL OR tenant_id = $3) \
         ORDER BY at, id LIMIT {MAX_ROWS}"
    ))
    .bind(p.from)
    .bind(p.to)
    .bind(tenant)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows.into_iter().map(|(at, actor, action, rt, rid)| json!({
        "at": rfc3339(at), "actor": actor, "action": action, "resource_type": rt, "resource_id": rid,
    })).collect())
}

/// The evidence body.
pub async fn body(
    svc: &Services,
    actor: &Actor,
    tenants: &[Tenant],
    tenant: Option<&TenantId>,
    p: &Period,
) -> Result<Value> {
    // A tenant's evidence walks its own chain only, not every tenant's.
    // Its walk takes turns in the caller's lane, as a search does.
    let lane = Lane::of(actor)?;
    let checks = match tenant {
        Some(t) => audit_chain::verify_chain(svc, t.as_str(), Some(&lane))
            .await?
            .into_iter()
            .collect(),
        None => audit_chain::verify_by(svc, Some(lane)).await?,
    };
    let chains: Vec<Value> = checks
        .into_iter()
        .map(|c| {
            json!({ "chain": c.chain, "events": c.events, "verified": c.broken.is_none(),
                         "broken": c.broken, "notes": c.notes })
        })
        .collect();
    let checkpoint = match svc
        .config
        .audit_anchor
        .as_deref()
        .and_then(|s| s.strip_prefix("file://"))
    {
        Some(path) => audit_anchor::last_in_file(std::path::Path::new(path))
            .ok()
            .map(|cp| json!({ "at": rfc3339(cp.at), "heads": cp.heads.len(), "sink": "file" })),
        None => None,
    };
    Ok(json!({
        "framework": "SOC 2 (TSC 2017): CC6.1-CC6.3, CC7.2, CC8.1",
        "scope": tenant.map_or_else(|| "platform".to_string(), |t| t.to_string()),
        "access": access(svc, actor, tenant, p).await?,
        "monitoring": monitoring(svc, tenants, tenant, p).await?,
        "changes": events(svc, tenant, p, false).await?,
        "audit_integrity": { "chains": chains, "last_external_checkpoint": checkpoint },
        "access_transparency": events(svc, tenant, p, true).await?,
    }))
}

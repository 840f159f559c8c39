//! The usage dashboards: a tenant's Usage page and the platform overview,
//! read from the hourly rollups (never the raw events), so they stay fast
//! however large the ledger grows.

use std::collections::BTreeMap;

use super::{budgets, Actor, Result, Services};
use crate::domain::budget::{Enforcement, Period};
use crate::domain::dashboard::{burn, days, traffic, Home, Hour, PlatformUsage, Span, TenantUsage};
use crate::domain::invoice::Month;
use crate::domain::plan::days_in_month;
use crate::domain::role::Access;
use crate::domain::tenant::{TenantCounts, TenantId};
use crate::domain::time::{now_millis, DAY, HOUR};
use crate::server::db::tenant_store::DayRow;

fn hour(r: DayRow) -> Hour {
    Hour {
        hour: r.day,
        model: r.model,
        requests: r.requests,
        errors: r.errors,
        tokens: r.tokens,
        cost_micros: r.cost_micros,
    }
}

/// The tenant's usage over `span`, of one model or key when given. Every
/// figure is summed by the database from the hourly rollups.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn tenant(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    span: Span,
    model: Option<String>,
    key: Option<String>,
) -> Result<TenantUsage> {
    actor.require(tenant_id, Access::Read)?;
    super::compliance::report::note_read(svc, actor, Some(tenant_id), "usage").await?;
    let tenant = super::tenants::get(svc, actor, tenant_id).await?;
    let now = now_millis();
    let window = span.window(now);
    let store = svc.stores.open(tenant_id).await?;
    let (m, k) = (model.as_deref(), key.as_deref());
    let per_day: Vec<Hour> = store
        .rollup_totals(window, false, m, k)
        .await?
        .into_iter()
        .map(hour)
        .collect();
    let last_48h = (now - 48 * HOUR, now + HOUR);
    let per_hour: Vec<Hour> = store
        .rollup_totals(last_48h, true, m, k)
        .await?
        .into_iter()
        .map(hour)
        .collect();
    let mut models: Vec<String> = store
        .rollup_totals(window, false, None, None)
        .await?
        .into_iter()
        .map(|r| r.model)
        .filter(|m| m != "-")
        .collect();
    models.sort();
    models.dedup();
    Ok(TenantUsage {
        tenant_id: tenant_id.to_string(),
        tenant_name: tenant.name,
        span,
        days: days(&per_day, window),
        traffic: traffic(&per_hour, now),
        burn: month_burn(svc, actor, tenant_id).await?,
        models,
        keys: key_names(svc, tenant_id).await?,
        model,
        key,
    })
}

/// The burn-down of the tenant-wide month budget (hard first), if any,
/// from the budget's own spend per day.
async fn month_burn(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<Option<crate::domain::dashboard::Burn>> {
    let list = budgets::list(svc, actor, tenant_id).await?;
    let Some(b) = list
        .iter()
        .filter(|b| b.api_key_id.is_none() && b.period == Period::Month)
        .min_by_key(|b| b.enforcement != Enforcement::Hard)
    else {
        return Ok(None);
    };
    let now = now_millis();
    let (first, last) = Period::Month.days(now);
    let store = svc.stores.open(tenant_id).await?;
    let spent: Vec<Hour> = store
        .spend_by_day((first, last), None)
        .await?
        .into_iter()
        .map(|(day, cost)| Hour {
            hour: day * DAY,
            model: "spend".into(),
            cost_micros: cost,
            ..Hour::default()
        })
        .collect();
    let so_far = days(&spent, (first * DAY, (last + 1) * DAY));
    let in_month = days_in_month(Month::of(now).first_day());
    Ok(Some(burn(&so_far, i64::from(in_month), b.limit_micros)))
}

async fn key_names(svc: &Services, tenant_id: &TenantId) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, name FROM api_keys WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant_id.as_str())
            .fetch_all(&svc.db.pool)
            .await?,
    )
}

/// Every tenant's usage this month and the last 30 days' trend (platform admins).
pub async fn platform(svc: &Services, actor: &Actor) -> Result<PlatformUsage> {
    actor.require_platform_read()?;
    let now = now_millis();
    let month = Month::of(now).window();
    let trend_window = Span::Days(30).window(now);
    let tenants: Vec<(String, String)> =
        sqlx::query_as("SELECT id, name FROM tenants ORDER BY name")
            .fetch_all(&svc.db.pool)
            .await?;
    let mut by_tenant = Vec::new();
    let mut by_model: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut trend: BTreeMap<i64, i64> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (id, name) in tenants {
        let Ok(tid) = TenantId::parse(&id) else {
            continue;
        };
        let store = svc.stores.open(&tid).await?;
        let from = month.0.min(trend_window.0);
        let rows = store
            .rollup_totals((from, trend_window.1), false, None, None)
            .await?;
        let (mut cost, mut requests) = (0, 0);
        for r in rows {
            *trend.entry(r.day).or_default() += r.cost_micros;
            if r.day >= month.0 {
                cost += r.cost_micros;
                requests += r.requests;
                let m = by_model.entry(r.model.clone()).or_default();
                m.0 += r.cost_micros;
                m.1 += r.requests;
            }
        }
        by_tenant.push((id, name.clone(), cost, requests));
        for s in budgets::status::of_tenant(svc, actor, &tid).await? {
            if s.percent() >= 50 {
                warnings.push((name.clone(), s));
            }
        }
    }
    by_tenant.sort_by_key(|t| std::cmp::Reverse(t.2));
    let mut top_models: Vec<(String, i64, i64)> = by_model
        .into_iter()
        .filter(|(m, _)| m != "-")
        .map(|(m, (c, r))| (m, c, r))
        .collect();
    top_models.sort_by_key(|m| std::cmp::Reverse(m.1));
    top_models.truncate(10);
    let trend = (0..30)
        .map(|i| trend_window.0 + i * DAY)
        .map(|d| (d, trend.get(&d).copied().unwrap_or(0)))
        .collect();
    Ok(PlatformUsage {
        month_cost_micros: by_tenant.iter().map(|t| t.2).sum(),
        month_requests: by_tenant.iter().map(|t| t.3).sum(),
        top_tenants: by_tenant.into_iter().take(10).collect(),
        top_models,
        trend,
        budgets: warnings,
    })
}

/// Recomputes the hourly rollups from the events, for one tenant or all
/// (platform admins); returns (tenants, hour rows).
pub async fn rebuild_rollups(
    svc: &Services,
    actor: &Actor,
    tenant: Option<&TenantId>,
) -> Result<(usize, u64)> {
    actor.require_platform_admin()?;
    let ids: Vec<String> = match tenant {
        Some(t) => vec![t.to_string()],
        None => {
            sqlx::query_scalar("SELECT id FROM tenants")
                .fetch_all(&svc.db.pool)
                .await?
        }
    };
    let mut rows = 0;
    for id in &ids {
        let Ok(tid) = TenantId::parse(id) else {
            continue;
        };
        rows += svc.stores.open(&tid).await?.rebuild_rollups().await?;
    }
    Ok((ids.len(), rows))
}

/// Numbers for the dashboard, scoped to the actor's tenant for tenant users.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn counts(svc: &Services, actor: &Actor) -> Result<TenantCounts> {
    let scope = actor.scope()?;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(scope)
            .fetch_one(&svc.db.pool)
            .await
    };
    let active_keys: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_keys WHERE ($1 IS NULL OR tenant_id = $1) \
         AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(scope)
    .bind(now_millis())
    .fetch_one(&svc.db.pool)
    .await?;
    Ok(TenantCounts {
        tenants: count("SELECT COUNT(*) FROM tenants WHERE ($1 IS NULL OR id = $1)").await?,
        active_tenants: count(
            "SELECT COUNT(*) FROM tenants WHERE ($1 IS NULL OR id = $1) AND status = 'active'",
        )
        .await?,
        active_keys,
        users: count("SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR tenant_id = $1)").await?,
    })
}

/// The dashboard's opening section for this actor: a tenant's users see
/// their tenant's month (spend, requests, budgets, models), platform users
/// the platform's counts.
pub async fn home(svc: &Services, actor: &Actor) -> Result<Home> {
    match actor.scope()? {
        Some(tenant) if !actor.role.is_platform() => {
            let tenant = tenant.clone();
            Ok(Home::Tenant {
                tenant_id: tenant.to_string(),
                usage: super::usage::month_to_date(svc, actor, &tenant).await?,
                budgets: budgets::status::of_tenant(svc, actor, &tenant).await?,
            })
        }
        _ => Ok(Home::Platform(counts(svc, actor).await?)),
    }
}

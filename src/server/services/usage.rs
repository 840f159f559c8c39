//! The usage ledger: one `usage_event` per completion request, and reports.

use crate::domain::tenant::TenantId;
use std::collections::BTreeMap;

use crate::domain::role::Access;
pub use crate::domain::usage::UsageEvent;
use crate::domain::usage::{UsageReport, UsageTotals};
use crate::server::db::tenant_store::Written;

use super::{Actor, Result, Services};

/// Writes a batch from the ledger: each tenant's events go to that
/// tenant's store. Events of a deleted tenant are dropped, because its data
/// has been erased and must stay so.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_batch(svc: &Services, events: &[UsageEvent]) -> Result<()> {
    match events.first() {
        None => return Ok(()),
        Some(first) if events.iter().all(|e| e.tenant_id == first.tenant_id) => {
            return write_tenant(svc, &first.tenant_id, events).await;
        }
        Some(_) => {}
    }
    let mut by_tenant: BTreeMap<&TenantId, Vec<UsageEvent>> = BTreeMap::new();
    for e in events {
        by_tenant.entry(&e.tenant_id).or_default().push(e.clone());
    }
    for (tenant_id, events) in by_tenant {
        write_tenant(svc, tenant_id, &events).await?;
    }
    Ok(())
}

async fn write_tenant(svc: &Services, tenant_id: &TenantId, events: &[UsageEvent]) -> Result<()> {
    if svc.stores.write_usage(tenant_id, events).await? == Written::TenantGone {
        tracing::warn!(
            tenant_id = %tenant_id,
            events = events.len(),
            "usage for a deleted tenant dropped"
        );
    }
    Ok(())
}

/// Totals for a tenant over `[from, to)`, by model.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn report(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<UsageReport> {
    actor.require(tenant_id, Access::Read)?;
    let store = svc.stores.open(tenant_id).await?;
    let rows = store
        .usage_by_model(from.unwrap_or(0), to.unwrap_or(i64::MAX))
        .await?;
    let mut report = UsageReport {
        totals: UsageTotals::default(),
        by_model: BTreeMap::new(),
    };
    for (model, t) in rows {
        report.totals.add(&t);
        // Evaluation rows carry no model: they are in the totals only.
        if t.requests > 0 {
            report.by_model.insert(model, t);
        }
    }
    Ok(report)
}

/// The current calendar month (UTC) so far: the billing period the portal shows.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn month_to_date(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<UsageReport> {
    use chrono::{Datelike, TimeZone, Utc};
    let now = Utc::now();
    let from = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis());
    report(svc, actor, tenant_id, from, None).await
}

/// The most a request-by-request read returns at once.
pub const MAX_EVENTS: i64 = 1_000;

/// A tenant's newest events in `[from, to)`, optionally of one key (the
/// key must be the tenant's), at most `MAX_EVENTS`.
pub async fn events(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    api_key_id: Option<&str>,
    period: (i64, i64),
) -> Result<Vec<UsageEvent>> {
    actor.require(tenant_id, Access::Read)?;
    let store = svc.stores.open(tenant_id).await?;
    Ok(store.recent_usage(period, api_key_id, MAX_EVENTS).await?)
}

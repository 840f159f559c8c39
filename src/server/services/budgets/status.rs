//! What each budget has spent in its current period, read from the ledger
//! (what the portal and the CLI show; the gateway keeps its own running
//! count, see `gateway::budget`).

use crate::domain::budget::{Budget, BudgetStatus, Day};
use crate::domain::pricing::Micros;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis, DAY};
use crate::server::services::{Actor, Result, Services};

/// The tenant's budgets with their spend so far; its own users may read them.
pub async fn of_tenant(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<Vec<BudgetStatus>> {
    let budgets = super::list(svc, actor, tenant_id).await?;
    let mut out = Vec::with_capacity(budgets.len());
    for budget in budgets {
        out.push(one(svc, budget).await?);
    }
    Ok(out)
}

async fn one(svc: &Services, budget: Budget) -> Result<BudgetStatus> {
    let now = now_millis();
    let days = budget.period.days(now);
    let spent = spent_in(svc, &budget.tenant_id, budget.api_key_id.as_deref(), days).await?;
    Ok(BudgetStatus {
        period: budget.period.window(now),
        spent_micros: spent,
        budget,
    })
}

/// What the tenant (or one key) spent over whole UTC days `[first, last]`,
/// from the hourly rollups; the sum saturates rather than wraps.
pub async fn spent_in(
    svc: &Services,
    tenant_id: &TenantId,
    api_key_id: Option<&str>,
    days: (i64, i64),
) -> Result<Micros> {
    let per_day = spend_by_day(svc, tenant_id, api_key_id, days).await?;
    Ok(per_day
        .into_iter()
        .fold(0, |sum: Micros, (_, m)| sum.saturating_add(m)))
}

/// What the tenant (or one key, with the keys it was rotated from) spent
/// on each day of `[first, last]`: what budgets count.
pub async fn spend_by_day(
    svc: &Services,
    tenant_id: &TenantId,
    api_key_id: Option<&str>,
    days: (Day, Day),
) -> Result<Vec<(Day, Micros)>> {
    let store = svc.stores.open(tenant_id).await?;
    let keys = match api_key_id {
        Some(key) => Some(lineage(svc, tenant_id, key, days.0 * DAY).await?),
        None => None,
    };
    Ok(store.spend_by_day(days, keys.as_deref()).await?)
}

/// A key and the keys it was rotated from (its lineage, see
/// `api_keys::rotate`, up to it: not its successors), of this tenant,
/// leaving out those revoked before `since`: they spent nothing since. A
/// rotation moves the key's budgets to the new key, so they go on counting
/// what the old one spent. A key with no lineage (made by an older binary)
/// is a lineage of its own. The lineage is matched on `lineage_id` or on
/// the first key's own id (such a key may have none), so the lineage index
/// and the primary key can serve it rather than a read of the tenant's keys.
async fn lineage(
    svc: &Services,
    tenant_id: &TenantId,
    key_id: &str,
    since: Millis,
) -> Result<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query_scalar(
        "SELECT k.id FROM api_keys k JOIN api_keys me ON me.id = $2 AND me.tenant_id = $1 \
         WHERE k.tenant_id = $1 \
         AND (k.lineage_id = COALESCE(me.lineage_id, me.id) OR k.id = COALESCE(me.lineage_id, me.id)) \
         AND k.created_at <= me.created_at \
         AND (k.revoked_at IS NULL OR k.revoked_at >= $3 OR k.id = $2) ORDER BY k.id",
    )
    .bind(tenant_id)
    .bind(key_id)
    .bind(since)
    .fetch_all(&svc.db.pool)
    .await?;
    if ids.is_empty() {
        ids.push(key_id.to_string());
    }
    Ok(ids)
}

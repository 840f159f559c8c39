//! What each budget has spent in its current period, read from the ledger
//! (what the portal and the CLI show; the gateway keeps its own running
//! count, see `gateway::budget`).

use crate::domain::budget::{Budget, BudgetStatus};
use crate::domain::pricing::Micros;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;
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
    let store = svc.stores.open(tenant_id).await?;
    let per_day = store.spend_by_day(days, api_key_id).await?;
    Ok(per_day
        .into_iter()
        .fold(0, |sum: Micros, (_, m)| sum.saturating_add(m)))
}

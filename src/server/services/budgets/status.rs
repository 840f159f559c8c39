//! What each budget has spent in its current period, read from the ledger
//! (what the portal and the CLI show; the gateway keeps its own running
//! count, see `gateway::budget`).

use crate::domain::budget::{Budget, BudgetStatus};
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
    let store = svc.stores.open(&budget.tenant_id).await?;
    let spent = store
        .spend_by_day(days, budget.api_key_id.as_deref())
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .sum();
    Ok(BudgetStatus {
        period: budget.period.window(now),
        spent_micros: spent,
        budget,
    })
}

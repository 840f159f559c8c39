//! Budgets on the tenant page: thin adapters over `services::budgets`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::budget::{Budget, BudgetStatus};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid, parse_tenant};

/// A tenant's budgets with their spend, and its recent alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetOverview {
    pub budgets: Vec<BudgetStatus>,
    /// `(threshold %, budget id, when)`, newest first.
    pub alerts: Vec<(i64, String, i64)>,
}

#[server(endpoint = "tenant_budgets")]
pub async fn tenant_budgets(id: String) -> Result<BudgetOverview, ServerFnError> {
    use crate::server::services::budgets;
    let (svc, actor) = actor().await?;
    let id = parse_tenant(&id)?;
    let statuses = budgets::status::of_tenant(&svc, &actor, &id)
        .await
        .map_err(fail)?;
    let alerts = budgets::alerts::list(&svc, &actor, &id, 20)
        .await
        .map_err(fail)?;
    Ok(BudgetOverview {
        budgets: statuses,
        alerts: alerts
            .into_iter()
            .map(|a| (a.threshold, a.budget_id, a.created_at))
            .collect(),
    })
}

/// What setting a budget made; the webhook secret only when new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetBudgetResult {
    pub budget: Budget,
    pub webhook_secret: Option<String>,
}

/// `key`: empty for the tenant's own budget; `limit` in dollars.
#[server(endpoint = "set_budget")]
pub async fn set_budget(
    tenant_id: String,
    key: String,
    limit: String,
    period: String,
    enforcement: String,
    #[server(default)] webhook: String,
) -> Result<SetBudgetResult, ServerFnError> {
    use crate::domain::pricing::parse_usd;
    use crate::server::services::budgets::{self, BudgetSpec};
    let (svc, actor) = actor().await?;
    let spec = BudgetSpec {
        tenant: parse_tenant(&tenant_id)?.to_string(),
        api_key: Some(key.trim().to_string()).filter(|k| !k.is_empty()),
        limit_micros: parse_usd("limit", &limit).map_err(invalid)?,
        period: period.parse().map_err(invalid)?,
        enforcement: enforcement.parse().map_err(invalid)?,
        webhook_url: Some(webhook).filter(|w| !w.trim().is_empty()),
    };
    let set = budgets::set(&svc, &actor, spec).await.map_err(fail)?;
    Ok(SetBudgetResult {
        budget: set.budget,
        webhook_secret: set.webhook_secret,
    })
}

#[server(endpoint = "remove_budget")]
pub async fn remove_budget(
    tenant_id: String,
    key: String,
    enforcement: String,
) -> Result<Budget, ServerFnError> {
    use crate::server::services::budgets;
    let (svc, actor) = actor().await?;
    let tenant = parse_tenant(&tenant_id)?.to_string();
    let key = Some(key.trim()).filter(|k| !k.is_empty());
    let enforcement = enforcement.parse().map_err(invalid)?;
    budgets::remove(&svc, &actor, &tenant, key, enforcement)
        .await
        .map_err(fail)
}

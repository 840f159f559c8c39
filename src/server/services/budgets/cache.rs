//! Every budget, by tenant, swapped in whole on each control-plane change:
//! the gateway reads it per request without touching the database.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{BudgetRow, COLUMNS, FROM};
use crate::domain::budget::Budget;
use crate::server::services::{Result, Services};

#[derive(Default)]
pub struct BudgetCache {
    by_tenant: ArcSwap<HashMap<String, Arc<[Budget]>>>,
}

impl BudgetCache {
    /// The budgets a request by `api_key_id` of `tenant_id` counts against:
    /// the tenant's own and that key's. Empty for most tenants.
    pub fn applying(&self, tenant_id: &str, api_key_id: &str) -> Vec<Budget> {
        let map = self.by_tenant.load();
        map.get(tenant_id).map_or_else(Vec::new, |all| {
            all.iter()
                .filter(|b| b.api_key_id.as_deref().is_none_or(|k| k == api_key_id))
                .cloned()
                .collect()
        })
    }

    /// Whether any budget exists at all: the gateway skips the lookup when not.
    pub fn is_empty(&self) -> bool {
        self.by_tenant.load().is_empty()
    }
}

/// Loads every budget; one that cannot be read fails the load, so a limit
/// never silently lapses.
pub async fn refresh(svc: &Services) -> Result<()> {
    let rows: Vec<BudgetRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM {FROM}"))
        .fetch_all(&svc.db.pool)
        .await?;
    let mut grouped: HashMap<String, Vec<Budget>> = HashMap::new();
    for row in rows {
        let b = Budget::try_from(row)?;
        grouped.entry(b.tenant_id.to_string()).or_default().push(b);
    }
    let map = grouped.into_iter().map(|(t, v)| (t, v.into())).collect();
    svc.budgets.by_tenant.store(Arc::new(map));
    Ok(())
}

//! Exports of the usage ledger for operators who bill with other tools
//! (OpenMeter, Lago): every event of a period, tenant by tenant, in pages,
//! so an export of any size runs in constant memory.

use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::usage::UsageEvent;

use super::{Actor, Result, Services};

/// Events read per query.
const PAGE: i64 = 1_000;

/// Calls `emit` with each event made in `[from, to)`, of `tenant` or (for
/// platform admins) of every tenant, in tenant then request-id order.
pub async fn export(
    svc: &Services,
    actor: &Actor,
    tenant: Option<&TenantId>,
    period: (i64, i64),
    mut emit: impl FnMut(&UsageEvent) -> std::io::Result<()>,
) -> Result<u64> {
    let tenants = match tenant {
        Some(t) => {
            actor.require(t, Access::Read)?;
            vec![t.clone()]
        }
        None => {
            actor.require_platform_read()?;
            sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
                .fetch_all(&svc.db.pool)
                .await?
        }
    };
    let mut written = 0;
    for t in &tenants {
        let store = svc.stores.open(t).await?;
        let mut after = String::new();
        loop {
            let page = store.usage_between(period, &after, PAGE).await?;
            for e in &page {
                emit(e).map_err(|e| super::ServiceError::Internal(format!("export: {e}")))?;
                written += 1;
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => after = last.request_id.clone(),
                _ => break,
            }
        }
    }
    Ok(written)
}

/// One page of a tenant's events in `[from, to)`, in request-id order,
/// after `after` (a request id): the admin API's export, which a client
/// resumes page by page, so neither side holds a whole month.
pub async fn page(
    svc: &Services,
    actor: &Actor,
    tenant: &TenantId,
    period: (i64, i64),
    after: &str,
    limit: i64,
) -> Result<Vec<UsageEvent>> {
    actor.require(tenant, Access::Read)?;
    let store = svc.stores.open(tenant).await?;
    Ok(store
        .usage_between(period, after, limit.clamp(1, PAGE))
        .await?)
}

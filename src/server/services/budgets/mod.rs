//! Budgets (see `domain::budget`): set and removed by platform admins, read
//! by the tenant's own users, and mirrored in a cache the gateway checks on
//! every request. Enforcement itself is the gateway's (`gateway::budget`);
//! alerts are `alerts`, spend reports `status`.

pub mod alerts;
mod cache;
mod delivery;
pub mod redeliver;
pub mod status;

pub use cache::{refresh, BudgetCache};

use serde_json::json;
use sqlx::FromRow;

use super::audit::Entry;
use super::{control, new_id, tenants, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::budget::{mask_webhook, Budget, Enforcement};
use crate::domain::catalog;
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;
use crate::server::crypto::webhook;

pub use crate::domain::budget::BudgetSpec;

/// What `set` made; the webhook secret only when it was just created.
pub struct SetBudget {
    pub budget: Budget,
    pub webhook_secret: Option<String>,
}

pub(super) const COLUMNS: &str = "b.id, b.tenant_id, b.api_key_id, k.name AS api_key_name, \
     b.enforcement, b.limit_micros, b.period, b.webhook_url, b.updated_at";
pub(super) const FROM: &str = "budgets b LEFT JOIN api_keys k ON k.id = b.api_key_id";

#[derive(FromRow)]
pub(super) struct BudgetRow {
    id: String,
    tenant_id: String,
    api_key_id: String,
    api_key_name: Option<String>,
    enforcement: String,
    limit_micros: i64,
    period: String,
    webhook_url: Option<String>,
    updated_at: i64,
}

impl TryFrom<BudgetRow> for Budget {
    type Error = ServiceError;
    fn try_from(r: BudgetRow) -> Result<Budget> {
        let unreadable = |e: Invalid| {
            ServiceError::Internal(format!("budget {} unreadable: {}", r.id, e.message))
        };
        Ok(Budget {
            enforcement: r.enforcement.parse().map_err(unreadable)?,
            period: r.period.parse().map_err(unreadable)?,
            tenant_id: TenantId::parse(&r.tenant_id).map_err(unreadable)?,
            id: r.id,
            api_key_id: (!r.api_key_id.is_empty()).then_some(r.api_key_id),
            api_key_name: r.api_key_name,
            limit_micros: r.limit_micros,
            webhook_url: r.webhook_url,
            updated_at: r.updated_at,
        })
    }
}

/// Creates or replaces the tenant's (or key's) budget of that enforcement;
/// audited with the budget before and after.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set(svc: &Services, actor: &Actor, spec: BudgetSpec) -> Result<SetBudget> {
    actor.require_platform_admin()?;
    let tenant = tenants::find(svc, actor, &spec.tenant).await?;
    let key = match &spec.api_key {
        Some(k) => Some(find_key(svc, &tenant.id, k).await?),
        None => None,
    };
    let webhook_url = spec
        .webhook_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            catalog::base_url(u, &svc.config.allow_private_upstreams)
                .map_err(|e| Invalid::new("webhook", e.message))
        })
        .transpose()?;
    let before = find(
        svc,
        &tenant.id,
        key.as_ref().map(|k| k.0.as_str()),
        spec.enforcement,
    )
    .await?;
    let budget = Budget {
        id: before.as_ref().map_or_else(new_id, |b| b.id.clone()),
        tenant_id: tenant.id.clone(),
        api_key_id: key.as_ref().map(|k| k.0.clone()),
        api_key_name: key.map(|k| k.1),
        limit_micros: spec.limit_micros,
        period: spec.period,
        enforcement: spec.enforcement,
        webhook_url,
        updated_at: now_millis(),
    };
    budget.check()?;
    // A webhook keeps its secret across edits; the first one gets a new
    // secret, shown once.
    let kept = stored_secret(svc, &budget.id).await?;
    let secret = (budget.webhook_url.is_some() && kept.is_none()).then(webhook::new_secret);
    let sealed = match &secret {
        Some(s) => Some(svc.secrets.seal(s)?),
        None => kept.filter(|_| budget.webhook_url.is_some()),
    };
    let mut tx = svc.db.pool.begin().await?;
    still_live(&mut tx, &tenant.id, budget.api_key_id.as_deref()).await?;
    write(&mut tx, &budget, sealed, before.is_some()).await?;
    let entry = Entry::success(AuditAction::BudgetSet, "budget", &budget.id)
        .tenant(&tenant.id)
        .details(json!({ "before": before, "after": budget }));
    control::commit(svc, tx, actor, entry, control::Caches::BUDGETS).await?;
    Ok(SetBudget {
        budget,
        webhook_secret: secret,
    })
}

/// Takes turns with key rotations on the tenant (see `api_keys::rotate`)
/// and checks the key is still live: a budget set on a key a rotation just
/// revoked would limit nothing.
async fn still_live(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &TenantId,
    key_id: Option<&str>,
) -> Result<()> {
    let Some(key_id) = key_id else {
        return Ok(());
    };
    control::lock_tenant(&mut *tx, tenant_id.as_str()).await?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
            .bind(key_id)
            .fetch_optional(&mut **tx)
            .await?;
    match live {
        Some(_) => Ok(()),
        None => Err(ServiceError::Conflict(
            "the key was rotated or revoked meanwhile; set the budget on its successor".into(),
        )),
    }
}

/// Inserts a new budget, or updates it in place so its alerts stay with it.
async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    b: &Budget,
    sealed: Option<String>,
    exists: bool,
) -> Result<()> {
    let sql = if exists {
        "UPDATE budgets SET limit_micros = $2, period = $3, webhook_url = $4, \
         webhook_secret = $5, updated_at = $6 WHERE id = $1"
    } else {
        "INSERT INTO budgets (id, limit_micros, period, webhook_url, webhook_secret, \
         updated_at, created_at, tenant_id, api_key_id, enforcement) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)"
    };
    let q = sqlx::query(sql)
        .bind(&b.id)
        .bind(b.limit_micros)
        .bind(b.period.to_string())
        .bind(&b.webhook_url)
        .bind(sealed)
        .bind(b.updated_at);
    let q = if exists {
        q
    } else {
        q.bind(b.tenant_id.as_str())
            .bind(b.api_key_id.as_deref().unwrap_or(""))
            .bind(b.enforcement.as_str())
    };
    q.execute(&mut **tx)
        .await
        .map_err(ServiceError::conflict_on("budget"))?;
    Ok(())
}

/// Removes the tenant's (or key's) budget of that enforcement.
pub async fn remove(
    svc: &Services,
    actor: &Actor,
    tenant: &str,
    api_key: Option<&str>,
    enforcement: Enforcement,
) -> Result<Budget> {
    actor.require_platform_admin()?;
    let tenant = tenants::find(svc, actor, tenant).await?;
    let key = match api_key {
        Some(k) => Some(find_key(svc, &tenant.id, k).await?.0),
        None => None,
    };
    let budget = find(svc, &tenant.id, key.as_deref(), enforcement)
        .await?
        .ok_or(ServiceError::NotFound("budget"))?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("DELETE FROM budgets WHERE id = $1")
        .bind(&budget.id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::BudgetRemove, "budget", &budget.id)
        .tenant(&tenant.id)
        .details(json!({ "before": budget }));
    control::commit(svc, tx, actor, entry, control::Caches::BUDGETS).await?;
    Ok(budget)
}

/// The tenant's budgets, tenant-wide first; its own users may read them.
pub async fn list(svc: &Services, actor: &Actor, tenant_id: &TenantId) -> Result<Vec<Budget>> {
    actor.require(tenant_id, Access::Read)?;
    let rows: Vec<BudgetRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE b.tenant_id = $1 \
         ORDER BY b.api_key_id, b.enforcement"
    ))
    .bind(tenant_id.as_str())
    .fetch_all(&svc.db.pool)
    .await?;
    let mut budgets: Vec<Budget> = rows
        .into_iter()
        .map(Budget::try_from)
        .collect::<Result<_>>()?;
    // A webhook URL often carries its receiver's secret in its path or
    // query: only those who may change the budget see it whole.
    if actor.require(tenant_id, Access::Manage).is_err() {
        for b in &mut budgets {
            b.webhook_url = b.webhook_url.as_deref().map(mask_webhook);
        }
    }
    Ok(budgets)
}

async fn find(
    svc: &Services,
    tenant_id: &TenantId,
    api_key_id: Option<&str>,
    enforcement: Enforcement,
) -> Result<Option<Budget>> {
    let row: Option<BudgetRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE b.tenant_id = $1 AND b.api_key_id = $2 \
         AND b.enforcement = $3"
    ))
    .bind(tenant_id.as_str())
    .bind(api_key_id.unwrap_or(""))
    .bind(enforcement.as_str())
    .fetch_optional(&svc.db.pool)
    .await?;
    row.map(Budget::try_from).transpose()
}

/// A key of this tenant by id or name: `(id, name)`. A name shared by
/// several keys is refused rather than guessed.
async fn find_key(svc: &Services, tenant_id: &TenantId, key: &str) -> Result<(String, String)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, name FROM api_keys WHERE tenant_id = $1 AND (id = $2 OR name = $2) \
         AND revoked_at IS NULL",
    )
    .bind(tenant_id.as_str())
    .bind(key.trim())
    .fetch_all(&svc.db.pool)
    .await?;
    match rows.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ServiceError::NotFound("api key")),
        _ => Err(Invalid::new("key", "several keys have that name; give the key's id").into()),
    }
}

/// The budget's sealed webhook secret, as stored.
pub(super) async fn stored_secret(svc: &Services, budget_id: &str) -> Result<Option<String>> {
    let sealed: Option<Option<String>> =
        sqlx::query_scalar("SELECT webhook_secret FROM budgets WHERE id = $1")
            .bind(budget_id)
            .fetch_optional(&svc.db.pool)
            .await?;
    Ok(sealed.flatten())
}

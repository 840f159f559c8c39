//! Plans and each tenant's subscription to one: `subscribe` starts a plan
//! now (the previous one ends), and the history stays, so a month's base
//! fee can be prorated from the plans actually in force.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;

use super::audit::Entry;
use super::budgets::{self, BudgetSpec};
use super::{control, new_id, tenants, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::budget::Period;
pub use crate::domain::plan::NewPlan;
use crate::domain::plan::{Plan, PlanBudget};
use crate::domain::role::Access;
use crate::domain::tenant::{TenantId, TenantSettings};
use crate::domain::time::{now_millis, Millis};
use crate::domain::validation::Invalid;

/// What a plan change reaches: the tenant rows the key cache holds (limits,
/// the plan's name), the plan's default budget, and its markups on prices.
const PLAN_CACHES: control::Caches = control::Caches::KEYS
    .and(control::Caches::BUDGETS)
    .and(control::Caches::CATALOG);

/// A tenant's plan from a moment on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subscription {
    pub tenant_id: TenantId,
    pub plan: Plan,
    pub effective_from: Millis,
}

const COLUMNS: &str = "id, name, base_fee_micros, included_credit_micros, markup_percent, \
     rpm, tpm, created_at, budget_micros, budget_enforcement, storage_gb_month_micros, \
     custom_model_month_micros, archived_at";

#[derive(FromRow)]
struct PlanRow {
    id: String,
    name: String,
    base_fee_micros: i64,
    included_credit_micros: i64,
    markup_percent: String,
    rpm: Option<i64>,
    tpm: Option<i64>,
    created_at: i64,
    budget_micros: Option<i64>,
    budget_enforcement: Option<String>,
    storage_gb_month_micros: i64,
    custom_model_month_micros: i64,
    archived_at: Option<i64>,
}

impl TryFrom<PlanRow> for Plan {
    type Error = ServiceError;
    fn try_from(r: PlanRow) -> Result<Plan> {
        let markup_percent = serde_json::from_str(&r.markup_percent).map_err(|e| {
            ServiceError::Internal(format!("plan {} markups unreadable: {e}", r.name))
        })?;
        let monthly_budget = match (r.budget_micros, r.budget_enforcement.as_deref()) {
            (Some(limit_micros), Some(kind)) => Some(PlanBudget {
                limit_micros,
                enforcement: kind.parse().map_err(|e: Invalid| {
                    ServiceError::Internal(format!(
                        "plan {} budget unreadable: {}",
                        r.name, e.message
                    ))
                })?,
            }),
            _ => None,
        };
        Ok(Plan {
            id: r.id,
            name: r.name,
            base_fee_micros: r.base_fee_micros,
            included_credit_micros: r.included_credit_micros,
            markup_percent,
            rpm: r.rpm,
            tpm: r.tpm,
            monthly_budget,
            storage_gb_month_micros: r.storage_gb_month_micros,
            custom_model_month_micros: r.custom_model_month_micros,
            created_at: r.created_at,
            archived_at: r.archived_at,
        })
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(svc: &Services, actor: &Actor, new: NewPlan) -> Result<Plan> {
    actor.require_platform_admin()?;
    let plan = Plan {
        id: new_id(),
        name: new.name.trim().to_string(),
        base_fee_micros: new.base_fee_micros,
        included_credit_micros: new.included_credit_micros,
        markup_percent: new.markup_percent,
        rpm: new.rpm,
        tpm: new.tpm,
        monthly_budget: new.monthly_budget,
        storage_gb_month_micros: new.storage_gb_month_micros,
        custom_model_month_micros: new.custom_model_month_micros,
        created_at: now_millis(),
        archived_at: None,
    };
    plan.check()?;
    if find(svc, &plan.name).await?.is_some() {
        return Err(ServiceError::Conflict(format!(
            "a plan {} exists",
            plan.name
        )));
    }
    let markups = serde_json::to_string(&plan.markup_percent)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO plans ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&plan.id)
    .bind(&plan.name)
    .bind(plan.base_fee_micros)
    .bind(plan.included_credit_micros)
    .bind(markups)
    .bind(plan.rpm)
    .bind(plan.tpm)
    .bind(plan.created_at)
    .bind(plan.monthly_budget.map(|b| b.limit_micros))
    .bind(plan.monthly_budget.map(|b| b.enforcement.as_str()))
    .bind(plan.storage_gb_month_micros)
    .bind(plan.custom_model_month_micros)
    .bind(plan.archived_at)
    .execute(&mut *tx)
    .await?;
    let entry =
        Entry::success(AuditAction::PlanCreate, "plan", &plan.id).details(json!({ "after": plan }));
    control::commit(svc, tx, actor, entry, PLAN_CACHES).await?;
    Ok(plan)
}

/// Stops the plan taking new subscribers; tenants on it keep it, and its
/// history and invoices stay. Archiving twice changes nothing.
#[tracing::instrument(level = "debug", skip_all, fields(plan = %name))]
pub async fn archive(svc: &Services, actor: &Actor, name: &str) -> Result<Plan> {
    actor.require_platform_admin()?;
    let mut plan = find(svc, name)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    if plan.archived_at.is_some() {
        return Ok(plan);
    }
    let at = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    let done =
        sqlx::query("UPDATE plans SET archived_at = $1 WHERE id = $2 AND archived_at IS NULL")
            .bind(at)
            .bind(&plan.id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        // Archived meanwhile: that archive stands, audited once.
        drop(tx);
        return find(svc, name).await?.ok_or(ServiceError::NotFound("plan"));
    }
    plan.archived_at = Some(at);
    let entry = Entry::success(AuditAction::PlanArchive, "plan", &plan.id)
        .details(json!({ "name": plan.name }));
    control::commit(svc, tx, actor, entry, PLAN_CACHES).await?;
    Ok(plan)
}

pub async fn list(svc: &Services, actor: &Actor) -> Result<Vec<Plan>> {
    actor.require_platform_read()?;
    let rows: Vec<PlanRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans ORDER BY name"))
        .fetch_all(&svc.db.pool)
        .await?;
    rows.into_iter().map(Plan::try_from).collect()
}

async fn find(svc: &Services, name: &str) -> Result<Option<Plan>> {
    let row: Option<PlanRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans WHERE name = $1"))
            .bind(name.trim())
            .fetch_optional(&svc.db.pool)
            .await?;
    row.map(Plan::try_from).transpose()
}

/// Puts the tenant on `plan` from now on; audited with the plan before.
/// The plan's default limits, where it sets them, become the tenant's
/// (audited as a tenant update, like any change of limits).
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn subscribe(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    plan: &str,
) -> Result<Subscription> {
    actor.require_platform_admin()?;
    let tenant = tenants::get(svc, actor, tenant_id).await?;
    let plan = find(svc, plan)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    if plan.archived_at.is_some() {
        return Err(ServiceError::Conflict(format!(
            "plan {} is archived: it takes no new subscribers",
            plan.name
        )));
    }
    let before = history(svc, actor, tenant_id).await?.pop();
    let now = now_millis();
    // Two changes in one millisecond: the later one stands.
    let effective_from = before
        .as_ref()
        .map_or(now, |b| now.max(b.effective_from + 1));
    let mut tx = svc.db.pool.begin().await?;
    // Only while the plan is open: an archive committed meanwhile wins.
    let taken = sqlx::query(
        "INSERT INTO subscriptions (tenant_id, plan_id, effective_from, created_at) \
         SELECT $1, $2, $3, $4 WHERE EXISTS \
         (SELECT 1 FROM plans WHERE id = $2 AND archived_at IS NULL)",
    )
    .bind(tenant_id.as_str())
    .bind(&plan.id)
    .bind(effective_from)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() == 0 {
        return Err(ServiceError::Conflict(format!(
            "plan {} is archived: it takes no new subscribers",
            plan.name
        )));
    }
    // The plan is part of the tenant as read: its ETag must change.
    sqlx::query("UPDATE tenants SET revision = revision + 1 WHERE id = $1")
        .bind(tenant_id.as_str())
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::TenantSetPlan, "tenant", tenant_id.as_str())
        .tenant(tenant_id)
        .details(json!({ "before": before.map(|b| b.plan.name), "after": plan.name }));
    control::commit(svc, tx, actor, entry, PLAN_CACHES).await?;
    if plan.rpm.is_some() || plan.tpm.is_some() {
        let settings = TenantSettings::new(
            &tenant.name,
            tenant.isolation,
            &tenant.data_location,
            plan.rpm.unwrap_or(tenant.rpm_limit),
            plan.tpm.unwrap_or(tenant.tpm_limit),
        )?;
        tenants::update(svc, actor, tenant_id, settings).await?;
    }
    if let Some(b) = plan.monthly_budget {
        give_budget(svc, actor, tenant_id, b).await?;
    }
    Ok(Subscription {
        tenant_id: tenant_id.clone(),
        plan,
        effective_from,
    })
}

/// The plan's monthly budget becomes the tenant's budget of that kind
/// (audited as any budget change); a webhook it had is kept.
async fn give_budget(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    b: PlanBudget,
) -> Result<()> {
    let webhook_url = budgets::list(svc, actor, tenant_id)
        .await?
        .into_iter()
        .find(|x| x.api_key_id.is_none() && x.enforcement == b.enforcement)
        .and_then(|x| x.webhook_url);
    let spec = BudgetSpec {
        tenant: tenant_id.to_string(),
        api_key: None,
        limit_micros: b.limit_micros,
        period: Period::Month,
        enforcement: b.enforcement,
        webhook_url,
    };
    budgets::set(svc, actor, spec).await.map(|_| ())
}

/// The tenant's subscriptions, oldest first (its users may read them).
pub async fn history(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<Vec<Subscription>> {
    actor.require(tenant_id, Access::Read)?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT effective_from, plan_id FROM subscriptions WHERE tenant_id = $1 \
         ORDER BY effective_from",
    )
    .bind(tenant_id.as_str())
    .fetch_all(&svc.db.pool)
    .await?;
    let plans: Vec<PlanRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM plans WHERE id IN \
         (SELECT plan_id FROM subscriptions WHERE tenant_id = $1)"
    ))
    .bind(tenant_id.as_str())
    .fetch_all(&svc.db.pool)
    .await?;
    let plans: BTreeMap<String, Plan> = plans
        .into_iter()
        .map(|r| Plan::try_from(r).map(|p| (p.id.clone(), p)))
        .collect::<Result<_>>()?;
    rows.into_iter()
        .map(|(effective_from, plan_id)| {
            let plan = plans.get(&plan_id).cloned().ok_or_else(|| {
                ServiceError::Internal(format!("subscription to a missing plan {plan_id}"))
            })?;
            Ok(Subscription {
                tenant_id: tenant_id.clone(),
                plan,
                effective_from,
            })
        })
        .collect()
}

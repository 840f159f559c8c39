//! Data policies per tenant (and the platform default), and their
//! application to text: what the gateway and the portal's "try it" box use.

use crate::domain::audit::AuditAction;
use crate::domain::tenant::TenantId;
use std::sync::Arc;

use arc_swap::ArcSwap;

use serde_json::json;
use sqlx::FromRow;

use crate::domain::pii;
use crate::domain::policy::{
    self, Action, Direction, PolicyChange, PolicyRule, PolicySet, Target, Trial,
};
use crate::domain::role::Access;
use crate::domain::time::now_millis;

use super::audit::Entry;
use super::{control, new_id, tenants, Actor, Result, ServiceError, Services};

/// Rebuilt by `refresh` and swapped in whole, like the catalog.
#[derive(Default)]
pub struct PolicyCache {
    current: ArcSwap<PolicySet>,
}

/// The current rules. Never touches the database.
pub fn snapshot(svc: &Services) -> Arc<PolicySet> {
    svc.policies.current.load_full()
}

/// Loads every rule and swaps the set in. A stored rule this version cannot
/// read fails the load rather than being skipped: a policy never silently lapses.
#[tracing::instrument(skip_all)]
pub async fn refresh(svc: &Services) -> Result<()> {
    let rules = load(svc).await?;
    svc.policies.current.store(Arc::new(PolicySet::new(rules)));
    Ok(())
}

/// Every rule, from the database: what admin views and the snapshot read.
async fn load(svc: &Services) -> Result<Vec<PolicyRule>> {
    let rows: Vec<PolicyRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM policies ORDER BY created_at"
    ))
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter().map(PolicyRow::into_rule).collect()
}

const COLUMNS: &str = "id, tenant_id, target_kind, target_value, action, direction, created_at";

#[derive(FromRow)]
struct PolicyRow {
    id: String,
    tenant_id: Option<TenantId>,
    target_kind: String,
    target_value: String,
    action: String,
    direction: String,
    created_at: i64,
}

impl PolicyRow {
    fn into_rule(self) -> Result<PolicyRule> {
        let unreadable = || ServiceError::Internal(format!("policy {} cannot be read", self.id));
        Ok(PolicyRule {
            target: Target::from_stored(&self.target_kind, &self.target_value)
                .ok_or_else(unreadable)?,
            action: self.action.parse().map_err(|_| unreadable())?,
            direction: self.direction.parse().map_err(|_| unreadable())?,
            id: self.id,
            tenant_id: self.tenant_id,
            created_at: self.created_at,
        })
    }
}

/// A new rule for a tenant, or for the platform default when `tenant_id` is `None`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
    target: Target,
    action: Action,
    direction: Direction,
) -> Result<PolicyRule> {
    actor.require_platform_admin()?;
    if let Some(t) = tenant_id {
        tenants::get(svc, actor, t).await?;
    }
    let held = load(svc).await?;
    if held
        .iter()
        .filter(|r| r.tenant_id.as_ref() == tenant_id)
        .count()
        >= MAX_RULES
    {
        return Err(ServiceError::Conflict(format!(
            "at most {MAX_RULES} rules per tenant (and for the platform default)"
        )));
    }
    let rule = PolicyRule {
        id: new_id(),
        tenant_id: tenant_id.cloned(),
        target,
        action,
        direction,
        created_at: now_millis(),
    };
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO policies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&rule.id)
    .bind(rule.tenant_id.as_deref())
    .bind(target.kind())
    .bind(target.value())
    .bind(action.as_str())
    .bind(direction.as_str())
    .bind(rule.created_at)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::PolicyAdd, "policy", &rule.id)
        .tenant_opt(tenant_id)
        .details(json!({ "target": target, "action": action, "direction": direction }));
    control::commit(svc, tx, actor, entry, control::Caches::POLICIES).await?;
    Ok(rule)
}

/// Rules of a tenant (`Some`) or the platform default (`None`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
) -> Result<Vec<PolicyRule>> {
    if let Some(t) = tenant_id {
        actor.require(t, Access::Read)?
    }
    Ok(load(svc)
        .await?
        .into_iter()
        .filter(|r| r.tenant_id.as_ref() == tenant_id)
        .collect())
}

/// One rule: a tenant's to its own readers, the platform default to all.
pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<PolicyRule> {
    let rule = (load(svc).await?.into_iter().find(|r| r.id == id))
        .ok_or(ServiceError::NotFound("policy"))?;
    if let Some(t) = &rule.tenant_id {
        actor.require_on(t, Access::Read, "policy")?;
    }
    Ok(rule)
}

/// Rules one tenant may hold: each is checked against every finding.
const MAX_RULES: usize = 500;

/// Changes a rule's target, action or direction in place, keeping its id
/// (what audit events and decisions name). Audited before and after.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn update(
    svc: &Services,
    actor: &Actor,
    id: &str,
    change: &PolicyChange,
) -> Result<PolicyRule> {
    actor.require_platform_admin()?;
    let all = load(svc).await?;
    let before = all
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(ServiceError::NotFound("policy"))?;
    let after = before.changed(change);
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE policies SET target_kind = $1, target_value = $2, action = $3, direction = $4 \
         WHERE id = $5",
    )
    .bind(after.target.kind())
    .bind(after.target.value())
    .bind(after.action.as_str())
    .bind(after.direction.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::PolicyUpdate, "policy", id)
        .tenant_opt(before.tenant_id.as_ref())
        .details(json!({
            "before": { "target": before.target, "action": before.action, "direction": before.direction },
            "after": { "target": after.target, "action": after.action, "direction": after.direction },
        }));
    control::commit(svc, tx, actor, entry, control::Caches::POLICIES).await?;
    Ok(after)
}

#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn remove(svc: &Services, actor: &Actor, id: &str) -> Result<()> {
    actor.require_platform_admin()?;
    let all = load(svc).await?;
    let rule = all
        .iter()
        .find(|r| r.id == id)
        .ok_or(ServiceError::NotFound("policy"))?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("DELETE FROM policies WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::PolicyRemove, "policy", id)
        .tenant_opt(rule.tenant_id.as_ref())
        .details(
            json!({ "target": rule.target, "action": rule.action, "direction": rule.direction }),
        );
    control::commit(svc, tx, actor, entry, control::Caches::POLICIES).await
}

/// The rules that govern a tenant's traffic: its own, or the platform default.
pub fn effective(svc: &Services, tenant_id: &str) -> Arc<[PolicyRule]> {
    snapshot(svc).effective(tenant_id)
}

/// With `tenant_id` `None`, tries the platform default.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn try_text(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
    text: &str,
    direction: Direction,
) -> Result<Trial> {
    let rules: Arc<[PolicyRule]> = match tenant_id {
        Some(t) => {
            actor.require(t, Access::Read)?;
            effective(svc, t)
        }
        None => list(svc, actor, None).await?.into(),
    };
    let text = text.to_string();
    super::cpu_bound(text.len(), move || trial(&rules, &text, direction)).await
}

/// The gateway's own path for one string: the same detector and caps.
fn trial(rules: &[PolicyRule], text: &str, direction: Direction) -> Trial {
    let findings = pii::detect(text);
    let decision = policy::evaluate(rules, &findings, direction);
    let forwarded = match decision.action {
        Action::Block => None,
        Action::Redact => Some(pii::redact(text, &decision.redact)),
        Action::Allow | Action::Flag => Some(text.to_string()),
    };
    Trial {
        findings,
        decision,
        forwarded,
    }
}

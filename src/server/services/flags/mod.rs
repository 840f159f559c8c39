//! Feature flags: platform flags (platform admins; they gate Atrium's
//! capabilities per tenant) and tenant flags (a tenant's admins; for the
//! tenant's own applications, invisible to every other tenant). Every change
//! is audited with the flag before and after, and versioned so every
//! replica's cache follows within one poll.

mod cache;
mod evaluate;
mod insight;

use std::sync::Arc;

use serde_json::json;
use sqlx::FromRow;

pub use cache::{FlagCache, FlagSet};
pub use evaluate::{tenant_flag, tenant_flags, EvalError, Evaluated};
pub use insight::{bucket_check, history, preview};

use super::audit::Entry;
use super::{control, new_id, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::flag::{Capability, Context, Flag, FlagKey, FlagVerdict, Rule};
use crate::domain::role::Access;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

/// Where a flag lives: the platform, or one tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Platform,
    Tenant(TenantId),
}

impl Scope {
    fn tenant(&self) -> Option<&TenantId> {
        match self {
            Scope::Platform => None,
            Scope::Tenant(t) => Some(t),
        }
    }

    /// Whether `actor` may change this scope's flags (the page shows the
    /// editor only then; the service checks again on every change).
    pub fn can_manage(&self, actor: &Actor) -> bool {
        self.require(actor, Access::Manage).is_ok()
    }

    /// Platform flags are the platform admins'; a tenant's flags are read
    /// by its users and changed by its admins.
    fn require(&self, actor: &Actor, access: Access) -> Result<()> {
        match self {
            Scope::Platform => actor.require_platform_admin(),
            Scope::Tenant(t) => actor.require(t, access),
        }
    }
}

#[derive(FromRow)]
struct FlagRow {
    tenant_id: Option<TenantId>,
    definition: String,
}

impl FlagRow {
    /// A stored flag this version cannot read, or that breaks its own
    /// rules, is an error: it is never served as something else.
    fn into_flag(self) -> Result<(Option<TenantId>, Flag)> {
        let flag: Flag = serde_json::from_str(&self.definition)
            .map_err(|e| ServiceError::Internal(format!("stored flag unreadable: {e}")))?;
        flag.check()?;
        Ok((self.tenant_id, flag))
    }
}

/// The flag set every evaluation reads. Never touches the database.
pub fn snapshot(svc: &Services) -> Arc<FlagSet> {
    svc.flags.load()
}

#[tracing::instrument(skip_all)]
pub async fn refresh(svc: &Services) -> Result<()> {
    let rows: Vec<FlagRow> = sqlx::query_as("SELECT tenant_id, definition FROM flags")
        .fetch_all(&svc.db.pool)
        .await?;
    let flags = rows
        .into_iter()
        .map(FlagRow::into_flag)
        .collect::<Result<Vec<_>>>()?;
    svc.flags.current.store(Arc::new(FlagSet::new(flags)));
    Ok(())
}

/// Creates each capability's platform flag the first time, with its
/// default: the code can then rely on every capability having a flag.
pub async fn seed_capabilities(svc: &Services) -> Result<()> {
    for cap in Capability::ALL {
        let flag = cap.seed();
        sqlx::query(
            "INSERT INTO flags (id, tenant_id, key, definition, created_at, updated_at) \
             SELECT $1, NULL, $2, $3, $4, $4 WHERE NOT EXISTS \
             (SELECT 1 FROM flags WHERE tenant_id IS NULL AND key = $2)",
        )
        .bind(new_id())
        .bind(flag.key.as_str())
        .bind(definition(&flag)?)
        .bind(now_millis())
        .execute(&svc.db.pool)
        .await?;
    }
    Ok(())
}

fn definition(flag: &Flag) -> Result<String> {
    serde_json::to_string(flag).map_err(|e| ServiceError::Internal(e.to_string()))
}

#[tracing::instrument(level = "debug", skip_all, fields(key = %flag.key))]
pub async fn create(svc: &Services, actor: &Actor, scope: &Scope, flag: Flag) -> Result<Flag> {
    scope.require(actor, Access::Manage)?;
    flag.check()?;
    let kept: i64 = match scope.tenant() {
        None => sqlx::query_scalar("SELECT COUNT(*) FROM flags WHERE tenant_id IS NULL"),
        Some(t) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM flags WHERE tenant_id = $1").bind(t.as_str())
        }
    }
    .fetch_one(&svc.db.pool)
    .await?;
    if kept >= crate::domain::flag::MAX_FLAGS_PER_SCOPE {
        return Err(ServiceError::Conflict(format!(
            "at most {} flags here; archive or delete some first",
            crate::domain::flag::MAX_FLAGS_PER_SCOPE
        )));
    }
    if find(svc, scope, &flag.key).await?.is_some() {
        return Err(ServiceError::Conflict(format!(
            "a flag {} already exists here",
            flag.key
        )));
    }
    let mut tx = svc.db.pool.begin().await?;
    let now = now_millis();
    sqlx::query(
        "INSERT INTO flags (id, tenant_id, key, definition, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(new_id())
    .bind(scope.tenant().map(TenantId::as_str))
    .bind(flag.key.as_str())
    .bind(definition(&flag)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::FlagCreate, "flag", flag.key.as_str())
        .tenant_opt(scope.tenant())
        .details(json!({ "after": flag }));
    control::commit(svc, tx, actor, entry).await?;
    Ok(flag)
}

/// The flags of a scope, by key.
pub async fn list(svc: &Services, actor: &Actor, scope: &Scope) -> Result<Vec<Flag>> {
    scope.require(actor, Access::Read)?;
    let rows: Vec<FlagRow> = match scope.tenant() {
        None => sqlx::query_as(
            "SELECT tenant_id, definition FROM flags WHERE tenant_id IS NULL ORDER BY key",
        ),
        Some(t) => sqlx::query_as(
            "SELECT tenant_id, definition FROM flags WHERE tenant_id = $1 ORDER BY key",
        )
        .bind(t.as_str()),
    }
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter()
        .map(|r| r.into_flag().map(|(_, f)| f))
        .collect()
}

/// One flag. A flag of another tenant is "not found", never "forbidden",
/// so its existence is not revealed.
pub async fn get(svc: &Services, actor: &Actor, scope: &Scope, key: &FlagKey) -> Result<Flag> {
    scope.require(actor, Access::Read)?;
    find(svc, scope, key)
        .await?
        .ok_or(ServiceError::NotFound("flag"))
}

async fn find(svc: &Services, scope: &Scope, key: &FlagKey) -> Result<Option<Flag>> {
    let row: Option<FlagRow> = match scope.tenant() {
        None => sqlx::query_as(
            "SELECT tenant_id, definition FROM flags WHERE tenant_id IS NULL AND key = $1",
        )
        .bind(key.as_str()),
        Some(t) => sqlx::query_as(
            "SELECT tenant_id, definition FROM flags WHERE key = $1 AND tenant_id = $2",
        )
        .bind(key.as_str())
        .bind(t.as_str()),
    }
    .fetch_optional(&svc.db.pool)
    .await?;
    row.map(|r| r.into_flag().map(|(_, f)| f)).transpose()
}

/// A change to a flag: the flag is read, changed, checked and written in
/// one transaction, audited with its value before and after.
pub enum Change {
    Enable(bool),
    /// Sets the percentage of the flag's rollout rule (adding one that
    /// serves `on`, or the first non-default variant, if there is none).
    Rollout(u8),
    /// Replaces the first target list (tenant ids, or targeting keys).
    Targets(Vec<String>),
    Rules(Vec<Rule>),
    /// Archived flags are kept (with their history) but no longer served.
    Archive(bool),
}

impl Change {
    fn action(&self) -> AuditAction {
        match self {
            Change::Enable(true) => AuditAction::FlagEnable,
            Change::Enable(false) => AuditAction::FlagDisable,
            Change::Rollout(_) => AuditAction::FlagRollout,
            Change::Targets(_) | Change::Rules(_) => AuditAction::FlagRules,
            Change::Archive(true) => AuditAction::FlagArchive,
            Change::Archive(false) => AuditAction::FlagRestore,
        }
    }

    fn apply(self, flag: &mut Flag) -> std::result::Result<(), Invalid> {
        match self {
            Change::Enable(on) => flag.enabled = on,
            Change::Rollout(pct) => set_rollout(flag, pct)?,
            Change::Targets(keys) => set_targets(flag, keys),
            Change::Rules(rules) => flag.rules = rules,
            Change::Archive(archived) => {
                if archived && Capability::of_key(flag.key.as_str()).is_some() {
                    return Err(Invalid::new(
                        "archived",
                        "a capability's flag gates Atrium itself and cannot be archived",
                    ));
                }
                flag.archived = archived;
            }
        }
        flag.check()
    }
}

fn serving_variant(flag: &Flag) -> String {
    let on = flag.variants.iter().find(|v| v.name == "on");
    let other = flag
        .variants
        .iter()
        .find(|v| v.name != flag.default_variant);
    on.or(other)
        .map_or_else(|| flag.default_variant.clone(), |v| v.name.clone())
}

fn set_rollout(flag: &mut Flag, pct: u8) -> std::result::Result<(), Invalid> {
    if pct > 100 {
        return Err(Invalid::new("percentage", "must be 0 to 100"));
    }
    let existing = flag.rules.iter_mut().find_map(|r| match r {
        Rule::Rollout { percentage, .. } => Some(percentage),
        _ => None,
    });
    match existing {
        Some(p) => *p = pct,
        None => {
            let variant = serving_variant(flag);
            flag.rules.push(Rule::Rollout {
                percentage: pct,
                variant,
                group_id: None,
            });
        }
    }
    Ok(())
}

fn set_targets(flag: &mut Flag, new_keys: Vec<String>) {
    let existing = flag.rules.iter_mut().find_map(|r| match r {
        Rule::Targets { keys, .. } => Some(keys),
        _ => None,
    });
    match existing {
        Some(keys) => *keys = new_keys,
        None => {
            let variant = serving_variant(flag);
            flag.rules.insert(
                0,
                Rule::Targets {
                    keys: new_keys,
                    variant,
                },
            );
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(key = %key))]
pub async fn change(
    svc: &Services,
    actor: &Actor,
    scope: &Scope,
    key: &FlagKey,
    change: Change,
) -> Result<Flag> {
    scope.require(actor, Access::Manage)?;
    let before = find(svc, scope, key)
        .await?
        .ok_or(ServiceError::NotFound("flag"))?;
    let action = change.action();
    let mut after = before.clone();
    change.apply(&mut after)?;
    let mut tx = svc.db.pool.begin().await?;
    let sql = match scope.tenant() {
        None => {
            "UPDATE flags SET definition = $1, updated_at = $2 WHERE key = $3 AND tenant_id IS NULL"
        }
        Some(_) => {
            "UPDATE flags SET definition = $1, updated_at = $2 WHERE key = $3 AND tenant_id = $4"
        }
    };
    let mut update = sqlx::query(sql)
        .bind(definition(&after)?)
        .bind(now_millis())
        .bind(key.as_str());
    if let Some(t) = scope.tenant() {
        update = update.bind(t.as_str());
    }
    update.execute(&mut *tx).await?;
    let entry = Entry::success(action, "flag", key.as_str())
        .tenant_opt(scope.tenant())
        .details(json!({ "before": before, "after": after }));
    control::commit(svc, tx, actor, entry).await?;
    Ok(after)
}

/// What every platform flag serves this tenant, and why (the tenant page).
pub async fn platform_for_tenant(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
) -> Result<Vec<FlagVerdict>> {
    actor.require(tenant_id, Access::Read)?;
    let tenant = super::tenants::get(svc, actor, tenant_id).await?;
    let ctx = tenant_context(&tenant);
    let set = snapshot(svc);
    Ok(set
        .platform_flags()
        .into_iter()
        .map(|f| f.verdict(&ctx))
        .collect())
}

/// The context a platform flag sees for a tenant: its id as the targeting
/// key, and its attributes.
pub fn tenant_context(tenant: &Tenant) -> Context {
    let mut ctx = Context {
        targeting_key: Some(tenant.id.to_string()),
        ..Context::default()
    };
    let attrs = [
        ("id", tenant.id.to_string()),
        ("name", tenant.name.clone()),
        ("data_location", tenant.data_location.clone()),
        ("isolation", tenant.isolation.as_str().to_string()),
    ];
    for (k, v) in attrs {
        ctx.attributes.insert(k.to_string(), v.into());
    }
    // A tenant on no plan has no `plan` attribute: `in`/`eq` conditions on
    // it do not match, and `not_in` does (as for any missing attribute).
    if let Some(plan) = &tenant.plan {
        ctx.attributes
            .insert("plan".to_string(), plan.clone().into());
    }
    ctx
}

/// Whether `capability` is on for `tenant`. A capability without its flag
/// is an internal error (seeding at start makes one for each), never a
/// quiet default.
pub fn capability(svc: &Services, capability: Capability, ctx: &Context) -> Result<bool> {
    #[cfg(feature = "devtools")]
    if crate::server::devtools::flag_checks_skipped() {
        return Ok(true);
    }
    snapshot(svc).capability(capability, ctx).ok_or_else(|| {
        ServiceError::Internal(format!("no flag for capability {}", capability.key()))
    })
}

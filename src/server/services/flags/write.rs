//! Creating and changing flags. Each write takes the next control-plane
//! version in its transaction and stamps the row with it, so every
//! replica's cache reloads only the rows past the version it holds (the
//! version row is locked until commit, so versions commit in order). A
//! change is audited with its summary and a diff, never the flag twice.

use serde_json::{json, Value};

use super::{find, find_versioned, Scope};
use crate::domain::audit::AuditAction;
use crate::domain::flag::{describe_change, diff, Capability, Flag, FlagKey, Rule};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;
use crate::server::services::audit::Entry;
use crate::server::services::{control, new_id, Actor, Result, ServiceError, Services};

pub(super) fn definition(flag: &Flag) -> Result<String> {
    serde_json::to_string(flag).map_err(|e| ServiceError::Internal(e.to_string()))
}

#[tracing::instrument(level = "debug", skip_all, fields(key = %flag.key))]
pub async fn create(svc: &Services, actor: &Actor, scope: &Scope, flag: Flag) -> Result<Flag> {
    scope.require(actor, Access::Manage)?;
    flag.check()?;
    if find(svc, scope, &flag.key).await?.is_some() {
        return Err(ServiceError::Conflict(format!(
            "a flag {} already exists here",
            flag.key
        )));
    }
    let mut tx = svc.db.pool.begin().await?;
    // The version row is held until commit: the count below cannot be
    // overshot by concurrent creates.
    let version = control::next_version(&mut tx).await?;
    let kept: i64 = match scope.tenant() {
        None => sqlx::query_scalar("SELECT COUNT(*) FROM flags WHERE tenant_id IS NULL"),
        Some(t) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM flags WHERE tenant_id = $1").bind(t.as_str())
        }
    }
    .fetch_one(&mut *tx)
    .await?;
    if kept >= crate::domain::flag::MAX_FLAGS_PER_SCOPE {
        return Err(ServiceError::Conflict(format!(
            "at most {} flags here; archive or delete some first",
            crate::domain::flag::MAX_FLAGS_PER_SCOPE
        )));
    }
    let now = now_millis();
    sqlx::query(
        "INSERT INTO flags (id, tenant_id, key, definition, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(new_id())
    .bind(scope.tenant().map(TenantId::as_str))
    .bind(flag.key.as_str())
    .bind(definition(&flag)?)
    .bind(now)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::FlagCreate, "flag", flag.key.as_str())
        .tenant_opt(scope.tenant())
        .details(json!({ "summary": describe_change(None, &flag), "after": flag }));
    control::commit(svc, tx, actor, entry, control::Caches::FLAGS).await?;
    Ok(flag)
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
            let variant = crate::domain::flag::rollout_variant(flag);
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
            let variant = crate::domain::flag::rollout_variant(flag);
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

pub async fn change(
    svc: &Services,
    actor: &Actor,
    scope: &Scope,
    key: &FlagKey,
    change: Change,
) -> Result<Flag> {
    Ok(change_if(svc, actor, scope, key, change, None).await?.0)
}

/// Applies `change` to the flag as read, and only to that revision: a
/// write in between (or a revision other than `expected`) is refused as
/// stale rather than overwritten. Returns the flag and its new revision.
#[tracing::instrument(level = "debug", skip_all, fields(key = %key))]
pub async fn change_if(
    svc: &Services,
    actor: &Actor,
    scope: &Scope,
    key: &FlagKey,
    change: Change,
    expected: Option<i64>,
) -> Result<(Flag, i64)> {
    scope.require(actor, Access::Manage)?;
    let (before, read_at) = find_versioned(svc, scope, key)
        .await?
        .ok_or(ServiceError::NotFound("flag"))?;
    if expected.is_some_and(|e| e != read_at) {
        return Err(ServiceError::Stale(STALE.into()));
    }
    let action = change.action();
    let mut after = before.clone();
    change.apply(&mut after)?;
    let mut tx = svc.db.pool.begin().await?;
    let version = control::next_version(&mut tx).await?;
    let sql = match scope.tenant() {
        None => {
            "UPDATE flags SET definition = $1, updated_at = $2, version = $3 \
             WHERE key = $4 AND version = $5 AND tenant_id IS NULL"
        }
        Some(_) => {
            "UPDATE flags SET definition = $1, updated_at = $2, version = $3 \
             WHERE key = $4 AND version = $5 AND tenant_id = $6"
        }
    };
    let mut update = sqlx::query(sql)
        .bind(definition(&after)?)
        .bind(now_millis())
        .bind(version)
        .bind(key.as_str())
        .bind(read_at);
    if let Some(t) = scope.tenant() {
        update = update.bind(t.as_str());
    }
    if update.execute(&mut *tx).await?.rows_affected() == 0 {
        return Err(ServiceError::Stale(STALE.into()));
    }
    let entry = Entry::success(action, "flag", key.as_str())
        .tenant_opt(scope.tenant())
        .details(changed(&before, &after)?);
    control::commit(svc, tx, actor, entry, control::Caches::FLAGS).await?;
    Ok((after, version))
}

const STALE: &str = "the flag changed since it was read; read it again";

/// A change's audit details: its summary and what differs.
fn changed(before: &Flag, after: &Flag) -> Result<Value> {
    let json =
        |f: &Flag| serde_json::to_value(f).map_err(|e| ServiceError::Internal(e.to_string()));
    Ok(json!({
        "summary": describe_change(Some(before), after),
        "changes": diff(&json(before)?, &json(after)?),
    }))
}

//! Feature flags: platform flags (platform admins; they gate Atrium's
//! capabilities per tenant) and tenant flags (a tenant's admins; for the
//! tenant's own applications, invisible to every other tenant). Every change
//! is audited with its summary and a diff, and versioned so every
//! replica's cache follows within one poll, reloading only what changed.

mod cache;
mod evaluate;
mod insight;
mod write;

use std::sync::Arc;

use sqlx::FromRow;

pub use cache::{refresh, FlagCache, FlagSet};
pub use evaluate::{tenant_flag, tenant_flags, EvalError, Evaluated};
pub use insight::{bucket_check, history, preview};
use write::definition;
pub use write::{change, change_if, create, Change};

use super::{new_id, Actor, Result, ServiceError, Services};
use crate::domain::flag::{Capability, Context, Flag, FlagKey, FlagVerdict};
use crate::domain::role::Access;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time::now_millis;

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
            Scope::Platform if access == Access::Read => actor.require_platform_read(),
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

/// Creates each capability's platform flag the first time, with its
/// default: the code can then rely on every capability having a flag.
pub async fn seed_capabilities(svc: &Services) -> Result<()> {
    let mut seeded = 0;
    for cap in Capability::ALL {
        let flag = cap.seed();
        seeded += sqlx::query(
            "INSERT INTO flags (id, tenant_id, key, definition, created_at, updated_at) \
             SELECT $1, NULL, $2, $3, $4, $4 WHERE NOT EXISTS \
             (SELECT 1 FROM flags WHERE tenant_id IS NULL AND key = $2)",
        )
        .bind(new_id())
        .bind(flag.key.as_str())
        .bind(definition(&flag)?)
        .bind(now_millis())
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    }
    if seeded > 0 {
        // Replicas already running (an upgrade adding a capability) load it.
        let mut conn = svc.db.pool.acquire().await?;
        super::control::bump(&mut conn, super::control::Caches::FLAGS).await?;
    }
    Ok(())
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
    Ok(find_versioned(svc, scope, key).await?.map(|(flag, _)| flag))
}

#[derive(sqlx::FromRow)]
struct VersionedRow {
    tenant_id: Option<TenantId>,
    definition: String,
    version: i64,
}

/// The flag with the control-plane version of its last write: its
/// revision, sent as the admin API's ETag.
async fn find_versioned(
    svc: &Services,
    scope: &Scope,
    key: &FlagKey,
) -> Result<Option<(Flag, i64)>> {
    let row: Option<VersionedRow> = match scope.tenant() {
        None => sqlx::query_as(
            "SELECT tenant_id, definition, version FROM flags \
             WHERE tenant_id IS NULL AND key = $1",
        )
        .bind(key.as_str()),
        Some(t) => sqlx::query_as(
            "SELECT tenant_id, definition, version FROM flags WHERE key = $1 AND tenant_id = $2",
        )
        .bind(key.as_str())
        .bind(t.as_str()),
    }
    .fetch_optional(&svc.db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let stored = FlagRow {
        tenant_id: r.tenant_id,
        definition: r.definition,
    };
    Ok(Some((stored.into_flag()?.1, r.version)))
}

/// A flag and its revision, for callers that change it conditionally.
pub async fn get_versioned(
    svc: &Services,
    actor: &Actor,
    scope: &Scope,
    key: &FlagKey,
) -> Result<(Flag, i64)> {
    scope.require(actor, Access::Read)?;
    find_versioned(svc, scope, key)
        .await?
        .ok_or(ServiceError::NotFound("flag"))
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
    if checks_skipped() {
        return Ok(true);
    }
    snapshot(svc).capability(capability, ctx).ok_or_else(|| {
        ServiceError::Internal(format!("no flag for capability {}", capability.key()))
    })
}

/// `ATRIUM_BENCH_NO_FLAG_CHECKS=1`, in builds with the bench tools only:
/// every capability reads as on without evaluating its flag, so `make
/// bench` can measure what flag checks cost the gateway. Absent from the
/// binary operators deploy.
#[cfg(feature = "devtools")]
fn checks_skipped() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var("ATRIUM_BENCH_NO_FLAG_CHECKS").is_ok_and(|v| v == "1"))
}

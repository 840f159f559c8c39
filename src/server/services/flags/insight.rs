//! Seeing a flag's effect before and after a change: its history (from the
//! audit log, readable by everyone who may read the flag), who gets a
//! platform flag across all tenants, and where one targeting key falls.

use super::{get, tenant_context, Scope};
use crate::domain::audit::AuditEvent;
use crate::domain::flag::{BucketCheck, Context, FlagChange, FlagKey, Preview};
use crate::domain::page::{PageRequest, SortDir, MAX_PER_PAGE};
use crate::domain::role::Access;
use crate::domain::tenant::TenantSort;
use crate::server::services::audit_chain::{Link, LINK_COLUMNS};
use crate::server::services::{tenants, Actor, Result, Services};

/// How many changes a flag's history shows.
const HISTORY: i64 = 100;
/// How many tenants the preview lists by name (all are counted).
const LISTED: usize = 500;

/// The flag's changes, newest first: who, when, what.
pub async fn history(
    svc: &Services,
    actor: &Actor,
    scope: &Scope,
    key: &FlagKey,
) -> Result<Vec<FlagChange>> {
    get(svc, actor, scope, key).await?;
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events WHERE resource_type = 'flag' \
         AND resource_id = $1 AND {} ORDER BY at DESC, seq DESC LIMIT $2",
        match scope {
            Scope::Platform => "tenant_id IS NULL",
            Scope::Tenant(_) => "tenant_id = $3",
        }
    );
    let mut query = sqlx::query_as::<_, Link>(&sql)
        .bind(key.as_str())
        .bind(HISTORY);
    if let Scope::Tenant(t) = scope {
        query = query.bind(t.as_str());
    }
    let rows = query.fetch_all(&svc.db.pool).await?;
    rows.into_iter()
        .map(|r| AuditEvent::try_from(r).map(FlagChange::from_event))
        .collect()
}

/// Who gets a platform flag: every tenant counted by the variant it is
/// served, the tenants a rule placed listed first.
pub async fn preview(svc: &Services, actor: &Actor, key: &FlagKey) -> Result<Preview> {
    actor.require_platform_read()?;
    let flag = get(svc, actor, &Scope::Platform, key).await?;
    let mut out = Preview::default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut page = 1;
    loop {
        let req = PageRequest::new(Some(page), Some(MAX_PER_PAGE));
        let batch = tenants::list(svc, actor, "", (TenantSort::Name, SortDir::Asc), req).await?;
        for t in &batch.items {
            let v = flag.verdict(&tenant_context(t));
            *counts.entry(v.variant.clone()).or_default() += 1;
            out.listed.push((t.name.clone(), t.id.to_string(), v));
        }
        out.tenants += batch.items.len();
        if batch.items.len() < MAX_PER_PAGE as usize {
            break;
        }
        page += 1;
    }
    // Tenants a rule placed come first: they are what a change moves.
    out.listed.sort_by_key(|(_, _, v)| v.rule.is_none());
    out.listed.truncate(LISTED);
    out.by_variant = counts.into_iter().collect();
    Ok(out)
}

/// What a flag serves one targeting key, and its bucket in every rollout
/// and split (for a platform flag the key names a tenant).
pub async fn bucket_check(
    svc: &Services,
    actor: &Actor,
    scope: &Scope,
    key: &FlagKey,
    targeting_key: &str,
) -> Result<BucketCheck> {
    if targeting_key.is_empty() || targeting_key.len() > 256 {
        return Err(crate::domain::validation::Invalid::new(
            "check",
            "a targeting key is 1 to 256 characters",
        )
        .into());
    }
    let flag = get(svc, actor, scope, key).await?;
    let ctx = match scope {
        Scope::Platform => platform_context(svc, actor, targeting_key).await?,
        Scope::Tenant(t) => {
            actor.require(t, Access::Read)?;
            Context {
                targeting_key: Some(targeting_key.to_string()),
                ..Context::default()
            }
        }
    };
    Ok(BucketCheck {
        targeting_key: targeting_key.to_string(),
        verdict: flag.verdict(&ctx),
        buckets: flag.buckets(targeting_key),
    })
}

/// A platform flag's context for a tenant named or identified by `who`,
/// or a bare key when no tenant has that name (what a new tenant would get).
async fn platform_context(svc: &Services, actor: &Actor, who: &str) -> Result<Context> {
    match tenants::find(svc, actor, who).await {
        Ok(t) => Ok(tenant_context(&t)),
        Err(crate::server::services::ServiceError::NotFound(_)) => Ok(Context {
            targeting_key: Some(who.to_string()),
            ..Context::default()
        }),
        Err(e) => Err(e),
    }
}

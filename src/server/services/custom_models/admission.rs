//! What a tenant may do with custom models beyond its role: the
//! `models.custom` capability, the bounds on versions and on what one
//! tenant serves from a shared pool, and the fields only platform admins
//! set.

use super::NewCustomModel;
use crate::domain::custom_model::CustomModel;
use crate::server::services::{Actor, Result, ServiceError, Services};

/// The largest version number: far beyond any release train, and far from
/// u32::MAX, so the next version always fits (u32::MAX once broke every
/// page of the tenant's custom models).
pub const MAX_VERSION: i64 = 1_000_000;

/// Versions one tenant may have deployed (or deploying, or deprecated and
/// still served) on one pool, so no tenant fills a shared pool.
pub const MAX_DEPLOYED_PER_POOL: i64 = 8;

/// Custom models are the `models.custom` capability: registering and
/// deploying need it on for the tenant, like calling them. Read from the
/// database, not the snapshot: a CLI process has no warm caches, and a
/// change made a moment ago counts.
pub async fn require_enabled(svc: &Services, tenant: &crate::domain::tenant::Tenant) -> Result<()> {
    use crate::domain::flag::{Capability, FlagKey};
    use crate::server::services::flags::{self, Scope};
    let key = FlagKey::parse(Capability::ModelsCustom.key())?;
    let flag = flags::get(svc, &Actor::system("custom_models"), &Scope::Platform, &key).await?;
    if flag
        .evaluate(&flags::tenant_context(tenant))
        .value
        .as_bool()
        == Some(true)
    {
        Ok(())
    } else {
        Err(ServiceError::Conflict(
            "custom models are not enabled for this tenant (the models.custom flag)".into(),
        ))
    }
}

/// A version's own prices, markup and hosting fee are the platform's
/// revenue: only platform admins set them; a tenant's admin registers at
/// the defaults (the base model's prices plus the default markup).
pub(super) fn check_pricing(actor: &Actor, new: &NewCustomModel) -> Result<()> {
    let priced = new.input_per_mtok.is_some()
        || new.output_per_mtok.is_some()
        || new.markup_percent.is_some()
        || new.hosting_fee_micros != 0;
    if priced && !actor.is_platform_admin() {
        return Err(crate::domain::validation::Invalid::new(
            "price",
            "a custom model's prices, markup and hosting fee are set by platform admins",
        )
        .into());
    }
    Ok(())
}

/// A tenant's versions served from one pool stay within
/// `MAX_DEPLOYED_PER_POOL` (the one being deployed aside).
pub(super) async fn within_pool_quota(
    conn: &mut sqlx::AnyConnection,
    m: &CustomModel,
) -> Result<()> {
    let served: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM custom_models WHERE tenant_id = $1 AND base_model = $2 \
         AND id <> $3 AND status IN ('deploying', 'deployed', 'deprecated')",
    )
    .bind(&m.tenant_id)
    .bind(&m.base_model)
    .bind(&m.id)
    .fetch_one(conn)
    .await?;
    if served >= MAX_DEPLOYED_PER_POOL {
        return Err(ServiceError::Conflict(format!(
            "a tenant serves at most {} versions from one pool; undeploy one first",
            MAX_DEPLOYED_PER_POOL
        )));
    }
    Ok(())
}

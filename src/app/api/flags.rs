//! Feature toggles: thin adapters over `services::flags`. An empty tenant
//! field means the platform's flags.

use leptos::prelude::*;

use crate::domain::flag::{Flag, FlagVerdict};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid};

#[cfg(feature = "ssr")]
fn scope(tenant: &str) -> Result<crate::server::services::flags::Scope, ServerFnError> {
    use crate::server::services::flags::Scope;
    match tenant.trim() {
        "" => Ok(Scope::Platform),
        t => super::ssr::parse_tenant(t).map(Scope::Tenant),
    }
}

#[cfg(feature = "ssr")]
fn key(raw: &str) -> Result<crate::domain::flag::FlagKey, ServerFnError> {
    crate::domain::flag::FlagKey::parse(raw).map_err(invalid)
}

#[server(endpoint = "list_flags")]
pub async fn list_flags(tenant: String) -> Result<Vec<Flag>, ServerFnError> {
    use crate::server::services::flags;
    let (svc, actor) = actor().await?;
    flags::list(&svc, &actor, &scope(&tenant)?)
        .await
        .map_err(fail)
}

#[server(endpoint = "create_flag")]
pub async fn create_flag(
    tenant: String,
    key: String,
    description: String,
) -> Result<Flag, ServerFnError> {
    use crate::server::services::flags;
    let (svc, actor) = actor().await?;
    let flag = Flag::boolean(self::key(&key)?, description.trim());
    flags::create(&svc, &actor, &scope(&tenant)?, flag)
        .await
        .map_err(fail)
}

#[server(endpoint = "set_flag_rollout")]
pub async fn set_flag_rollout(
    tenant: String,
    key: String,
    percent: String,
) -> Result<Flag, ServerFnError> {
    use crate::domain::validation::Invalid;
    use crate::server::services::flags::{self, Change};
    let (svc, actor) = actor().await?;
    let pct = percent
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| {
            invalid(Invalid::new(
                "percent",
                "must be a whole number from 0 to 100",
            ))
        })?;
    flags::change(
        &svc,
        &actor,
        &scope(&tenant)?,
        &self::key(&key)?,
        Change::Rollout(pct),
    )
    .await
    .map_err(fail)
}

#[server(endpoint = "set_flag_enabled")]
pub async fn set_flag_enabled(
    tenant: String,
    key: String,
    enabled: String,
) -> Result<Flag, ServerFnError> {
    use crate::server::services::flags::{self, Change};
    let (svc, actor) = actor().await?;
    let on = enabled == "true";
    flags::change(
        &svc,
        &actor,
        &scope(&tenant)?,
        &self::key(&key)?,
        Change::Enable(on),
    )
    .await
    .map_err(fail)
}

#[server(endpoint = "tenant_platform_flags")]
pub async fn tenant_platform_flags(id: String) -> Result<Vec<FlagVerdict>, ServerFnError> {
    use crate::server::services::flags;
    let (svc, actor) = actor().await?;
    let tenant = super::ssr::parse_tenant(&id)?;
    flags::platform_for_tenant(&svc, &actor, &tenant)
        .await
        .map_err(fail)
}

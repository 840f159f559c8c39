//! Feature toggles: thin adapters over `services::flags`. An empty tenant
//! field means the platform's flags.

use leptos::prelude::*;

use serde::{Deserialize, Serialize};

use crate::domain::flag::{BucketCheck, Flag, FlagChange, FlagVerdict, Preview};

/// Everything the flag page shows, in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagView {
    pub flag: Flag,
    /// The rules as editable JSON.
    pub rules_json: String,
    pub history: Vec<FlagChange>,
    /// Who gets a platform flag (platform admins).
    pub preview: Option<Preview>,
    /// Where the asked-for targeting key falls.
    pub check: Option<BucketCheck>,
    pub can_manage: bool,
}

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

/// `variants`: one `NAME=VALUE` per line (ignored for boolean flags).
#[server(endpoint = "create_flag")]
pub async fn create_flag(
    tenant: String,
    key: String,
    kind: String,
    variants: String,
    description: String,
) -> Result<Flag, ServerFnError> {
    use crate::domain::flag::FlagKind;
    use crate::server::services::flags;
    let (svc, actor) = actor().await?;
    let kind = FlagKind::parse(&kind).map_err(invalid)?;
    let specs: Vec<&str> = variants.lines().collect();
    let flag =
        Flag::from_spec(self::key(&key)?, kind, description.trim(), &specs).map_err(invalid)?;
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

#[server(endpoint = "flag_detail")]
pub async fn flag_detail(
    tenant: String,
    key: String,
    check: String,
) -> Result<FlagView, ServerFnError> {
    use crate::server::services::flags::{self, Scope};
    let (svc, actor) = actor().await?;
    let (scope, key) = (scope(&tenant)?, self::key(&key)?);
    let flag = flags::get(&svc, &actor, &scope, &key).await.map_err(fail)?;
    let history = flags::history(&svc, &actor, &scope, &key)
        .await
        .map_err(fail)?;
    let preview = match scope {
        Scope::Platform if actor.is_platform_admin() => {
            Some(flags::preview(&svc, &actor, &key).await.map_err(fail)?)
        }
        _ => None,
    };
    let check = match check.trim() {
        "" => None,
        who => Some(
            flags::bucket_check(&svc, &actor, &scope, &key, who)
                .await
                .map_err(fail)?,
        ),
    };
    Ok(FlagView {
        rules_json: serde_json::to_string_pretty(&flag.rules).map_err(|e| {
            fail(crate::server::services::ServiceError::Internal(
                e.to_string(),
            ))
        })?,
        flag,
        history,
        preview,
        check,
        can_manage: scope.can_manage(&actor),
    })
}

/// Replaces a flag's rules with `rules`, a JSON array (the page's editor).
#[server(endpoint = "set_flag_rules")]
pub async fn set_flag_rules(
    tenant: String,
    key: String,
    rules: String,
) -> Result<Flag, ServerFnError> {
    use crate::domain::validation::Invalid;
    use crate::server::services::flags::{self, Change};
    let (svc, actor) = actor().await?;
    let rules = serde_json::from_str(&rules)
        .map_err(|e| invalid(Invalid::new("rules", format!("not a list of rules: {e}"))))?;
    flags::change(
        &svc,
        &actor,
        &scope(&tenant)?,
        &self::key(&key)?,
        Change::Rules(rules),
    )
    .await
    .map_err(fail)
}

/// Archives a flag (kept, with its history, but no longer served) or
/// restores it.
#[server(endpoint = "set_flag_archived")]
pub async fn set_flag_archived(
    tenant: String,
    key: String,
    archived: String,
) -> Result<Flag, ServerFnError> {
    use crate::server::services::flags::{self, Change};
    let (svc, actor) = actor().await?;
    flags::change(
        &svc,
        &actor,
        &scope(&tenant)?,
        &self::key(&key)?,
        Change::Archive(archived == "true"),
    )
    .await
    .map_err(fail)
}

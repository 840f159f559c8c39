use leptos::prelude::*;

use crate::domain::policy::PolicyRule;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid};
#[cfg(feature = "ssr")]
use crate::domain::tenant::TenantId;

/// Trial of a policy on some text, as the portal shows it.
pub use crate::domain::policy::Trial;

/// An empty tenant field means the platform-wide rules.
#[cfg(feature = "ssr")]
fn tenant_opt(tenant: &str) -> Result<Option<TenantId>, ServerFnError> {
    let raw = tenant.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    super::ssr::parse_tenant(raw).map(Some)
}

#[server(endpoint = "list_policies")]
pub async fn list_policies(tenant: String) -> Result<Vec<PolicyRule>, ServerFnError> {
    use crate::server::services::policies;
    let (svc, actor) = actor().await?;
    policies::list(&svc, &actor, tenant_opt(&tenant)?.as_ref())
        .await
        .map_err(fail)
}

#[server(endpoint = "add_policy")]
pub async fn add_policy(
    tenant: String,
    target: String,
    action: String,
    direction: String,
) -> Result<PolicyRule, ServerFnError> {
    use crate::domain::policy::Target;
    use crate::server::services::policies;
    let (svc, actor) = actor().await?;
    // The form's one select names either an entity type or `class:LEVEL`.
    let target = match target.strip_prefix("class:") {
        Some(level) => Target::parse(None, Some(level)),
        None => Target::parse(Some(&target), None),
    }
    .map_err(invalid)?;
    let action = action.parse().map_err(invalid)?;
    let direction = if direction.is_empty() {
        "prompt"
    } else {
        &direction
    };
    let direction = direction.parse().map_err(invalid)?;
    policies::add(
        &svc,
        &actor,
        tenant_opt(&tenant)?.as_ref(),
        target,
        action,
        direction,
    )
    .await
    .map_err(fail)
}

#[server(endpoint = "remove_policy")]
pub async fn remove_policy(id: String) -> Result<(), ServerFnError> {
    use crate::server::services::policies;
    let (svc, actor) = actor().await?;
    policies::remove(&svc, &actor, &id).await.map_err(fail)
}

#[server(endpoint = "try_policy")]
pub async fn try_policy(tenant: String, text: String) -> Result<Trial, ServerFnError> {
    use crate::domain::policy::Direction;
    use crate::server::services::policies;
    let (svc, actor) = actor().await?;
    policies::try_text(
        &svc,
        &actor,
        tenant_opt(&tenant)?.as_ref(),
        &text,
        Direction::Prompt,
    )
    .await
    .map_err(fail)
}

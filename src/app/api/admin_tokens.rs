//! The admin tokens page's server functions, over the admin token service.

use leptos::prelude::*;

use crate::domain::admin_token::{AdminToken, CreatedToken};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, flash, invalid};

/// Every token (the first 200, oldest first); platform admins only.
#[server(endpoint = "list_admin_tokens")]
pub async fn list_admin_tokens() -> Result<Vec<AdminToken>, ServerFnError> {
    use crate::domain::cursor::CursorRequest;
    use crate::server::services::admin_tokens;
    let (svc, actor) = actor().await?;
    let page = admin_tokens::list(&svc, &actor, &CursorRequest::first(200))
        .await
        .map_err(fail)?;
    Ok(page.data)
}

#[server(endpoint = "create_admin_token")]
pub async fn create_admin_token(
    name: String,
    scope: String,
    tenant: String,
    expires_in_days: String,
    rate_per_minute: String,
) -> Result<CreatedToken, ServerFnError> {
    use crate::domain::admin_token::NewAdminToken;
    use crate::domain::flash::Flash;
    use crate::domain::validation::optional_whole_number;
    use crate::server::services::admin_tokens;
    let (svc, actor) = actor().await?;
    let new = NewAdminToken {
        name,
        scope: scope.parse().map_err(invalid)?,
        tenant: Some(tenant).filter(|t| !t.trim().is_empty()),
        expires_in_days: optional_whole_number("expires_in_days", &expires_in_days)
            .map_err(invalid)?,
        rate_per_minute: optional_whole_number("rate_per_minute", &rate_per_minute)
            .map_err(invalid)?,
    };
    let created = admin_tokens::create(&svc, &actor, new)
        .await
        .map_err(fail)?;
    let note = format!(
        "Admin token {} created. Copy it now: it is shown only once.",
        created.admin_token.name
    );
    flash(
        &svc,
        Flash::success(note).with_secret(created.token.clone()),
    );
    Ok(created)
}

#[server(endpoint = "revoke_admin_token")]
pub async fn revoke_admin_token(id: String) -> Result<AdminToken, ServerFnError> {
    use crate::server::services::admin_tokens;
    let (svc, actor) = actor().await?;
    admin_tokens::revoke(&svc, &actor, &id).await.map_err(fail)
}

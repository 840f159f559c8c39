use leptos::prelude::*;

use crate::domain::api_key::{ApiKey, CreatedKey};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, flash, invalid, parse_tenant};

#[server(endpoint = "list_keys")]
pub async fn list_keys(tenant_id: String) -> Result<Vec<ApiKey>, ServerFnError> {
    use crate::server::services::api_keys;
    let (svc, actor) = actor().await?;
    api_keys::list(&svc, &actor, &parse_tenant(&tenant_id)?)
        .await
        .map_err(fail)
}

#[server(endpoint = "create_key")]
pub async fn create_key(
    tenant_id: String,
    name: String,
    expires_in_days: String,
) -> Result<CreatedKey, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::domain::validation::optional_whole_number;
    use crate::server::services::api_keys;
    let (svc, actor) = actor().await?;
    let days = optional_whole_number("expires_in_days", &expires_in_days).map_err(invalid)?;
    let created = api_keys::create(&svc, &actor, &parse_tenant(&tenant_id)?, &name, days)
        .await
        .map_err(fail)?;
    let note = format!(
        "Key {} created. Copy it now: it is shown only once.",
        created.api_key.name
    );
    flash(&svc, Flash::success(note).with_secret(created.key.clone()));
    Ok(created)
}

#[server(endpoint = "revoke_key")]
pub async fn revoke_key(id: String) -> Result<ApiKey, ServerFnError> {
    use crate::server::services::api_keys;
    let (svc, actor) = actor().await?;
    api_keys::revoke(&svc, &actor, &id).await.map_err(fail)
}

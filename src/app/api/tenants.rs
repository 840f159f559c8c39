use leptos::prelude::*;

use crate::domain::dashboard::Home;
use crate::domain::page::Page;
use crate::domain::tenant::{MoveReport, Tenant, TenantData};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid, parse_tenant};

/// The dashboard's opening section: the platform's counts, or the own
/// tenant's month for a tenant's users.
#[server(endpoint = "dashboard_home")]
pub async fn dashboard_home() -> Result<Home, ServerFnError> {
    use crate::server::services::dashboards;
    let (svc, actor) = actor().await?;
    dashboards::home(&svc, &actor).await.map_err(fail)
}

/// Items the usage ledger or policy audit could not store (platform admins).
#[server(endpoint = "dead_letter_count")]
pub async fn dead_letter_count() -> Result<i64, ServerFnError> {
    use crate::server::services::dead_letters;
    let (svc, actor) = actor().await?;
    dead_letters::count(&svc, &actor).await.map_err(fail)
}

#[server(endpoint = "list_tenants")]
pub async fn list_tenants(
    q: String,
    page: u32,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
) -> Result<Page<Tenant>, ServerFnError> {
    use crate::domain::page::{PageRequest, SortDir};
    use crate::domain::tenant::TenantSort;
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    let order = (TenantSort::parse(&sort), SortDir::parse(&dir));
    tenants::list(&svc, &actor, &q, order, PageRequest::new(Some(page), None))
        .await
        .map_err(fail)
}

#[server(endpoint = "get_tenant")]
pub async fn get_tenant(id: String) -> Result<Tenant, ServerFnError> {
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    tenants::get(&svc, &actor, &parse_tenant(&id)?)
        .await
        .map_err(fail)
}

#[server(endpoint = "create_tenant")]
pub async fn create_tenant(
    name: String,
    isolation: String,
    data_location: String,
    rpm_limit: String,
    tpm_limit: String,
) -> Result<Tenant, ServerFnError> {
    use crate::domain::tenant::TenantSettings;
    use crate::domain::validation::whole_number;
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    let settings = TenantSettings::new(
        &name,
        isolation.parse().map_err(invalid)?,
        &data_location,
        whole_number("rpm_limit", &rpm_limit).map_err(invalid)?,
        whole_number("tpm_limit", &tpm_limit).map_err(invalid)?,
    )
    .map_err(invalid)?;
    tenants::create(&svc, &actor, settings).await.map_err(fail)
}

#[server(endpoint = "update_tenant")]
pub async fn update_tenant(
    id: String,
    name: String,
    data_location: String,
    rpm_limit: String,
    tpm_limit: String,
) -> Result<Tenant, ServerFnError> {
    use crate::domain::tenant::TenantSettings;
    use crate::domain::validation::whole_number;
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    let current = tenants::get(&svc, &actor, &parse_tenant(&id)?)
        .await
        .map_err(fail)?;
    let settings = TenantSettings::new(
        &name,
        current.isolation,
        &data_location,
        whole_number("rpm_limit", &rpm_limit).map_err(invalid)?,
        whole_number("tpm_limit", &tpm_limit).map_err(invalid)?,
    )
    .map_err(invalid)?;
    tenants::update(&svc, &actor, &parse_tenant(&id)?, settings)
        .await
        .map_err(fail)
}

#[server(endpoint = "set_tenant_status")]
pub async fn set_tenant_status(id: String, status: String) -> Result<Tenant, ServerFnError> {
    use crate::domain::tenant::TenantStatus;
    use crate::domain::validation::Invalid;
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    let status = TenantStatus::parse(&status)
        .ok_or_else(|| invalid(Invalid::new("status", "must be active or suspended")))?;
    tenants::set_status(&svc, &actor, &parse_tenant(&id)?, status)
        .await
        .map_err(fail)
}

#[server(endpoint = "delete_tenant")]
pub async fn delete_tenant(id: String, confirm_name: String) -> Result<(), ServerFnError> {
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    tenants::delete(&svc, &actor, &parse_tenant(&id)?, &confirm_name)
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/tenants");
    Ok(())
}

#[server(endpoint = "tenant_options")]
pub async fn tenant_options() -> Result<Vec<(String, String)>, ServerFnError> {
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    tenants::names(&svc, &actor).await.map_err(fail)
}

#[server(endpoint = "tenant_data")]
pub async fn get_tenant_data(id: String) -> Result<TenantData, ServerFnError> {
    use crate::server::services::tenant_data;
    let (svc, actor) = actor().await?;
    tenant_data::data(&svc, &actor, &parse_tenant(&id)?)
        .await
        .map_err(fail)
}

#[server(endpoint = "set_tenant_isolation")]
pub async fn set_tenant_isolation(id: String, level: String) -> Result<MoveReport, ServerFnError> {
    use crate::server::services::tenant_data;
    let (svc, actor) = actor().await?;
    let level = level.parse().map_err(invalid)?;
    tenant_data::set_isolation(&svc, &actor, &parse_tenant(&id)?, level)
        .await
        .map_err(fail)
}

#[server(endpoint = "set_audit_retention")]
pub async fn set_audit_retention(id: String, days: String) -> Result<Tenant, ServerFnError> {
    use crate::domain::validation::whole_number;
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    let days = match days.trim() {
        "" => None,
        d => Some(whole_number("days", d).map_err(invalid)?),
    };
    tenants::set_audit_retention(&svc, &actor, &parse_tenant(&id)?, days)
        .await
        .map_err(fail)
}

//! Invoices in the portal: thin adapters over `services::invoices`.

use leptos::prelude::*;

use crate::domain::invoice::Invoice;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid, parse_tenant};

#[server(endpoint = "tenant_invoices")]
pub async fn tenant_invoices(id: String) -> Result<Vec<Invoice>, ServerFnError> {
    use crate::server::services::invoices;
    let (svc, actor) = actor().await?;
    invoices::list(&svc, &actor, &parse_tenant(&id)?)
        .await
        .map_err(fail)
}

#[server(endpoint = "get_invoice")]
pub async fn get_invoice(id: String, month: String) -> Result<Invoice, ServerFnError> {
    use crate::server::services::invoices;
    let (svc, actor) = actor().await?;
    let month = month.parse().map_err(invalid)?;
    invoices::get(&svc, &actor, &parse_tenant(&id)?, month)
        .await
        .map_err(fail)
}

/// Issues a closed month's invoice (platform admins).
#[server(endpoint = "issue_invoice")]
pub async fn issue_invoice(id: String, month: String) -> Result<Invoice, ServerFnError> {
    use crate::server::services::invoices;
    let (svc, actor) = actor().await?;
    let month = month.parse().map_err(invalid)?;
    invoices::issue(&svc, &actor, &parse_tenant(&id)?, month)
        .await
        .map_err(fail)
}

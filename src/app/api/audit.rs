use leptos::prelude::*;

use crate::domain::audit::{AuditEvent, AuditQuery, AuditRow};
use crate::domain::page::Page;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail};

#[server(endpoint = "search_audit")]
pub async fn search_audit(query: AuditQuery, page: u32) -> Result<Page<AuditRow>, ServerFnError> {
    use crate::domain::page::PageRequest;
    use crate::server::services::{audit, audit_names};
    let (svc, actor) = actor().await?;
    let found = audit::search(&svc, &actor, &query, PageRequest::new(Some(page), None))
        .await
        .map_err(fail)?;
    let rows = audit_names::rows(&svc, found.items).await.map_err(fail)?;
    Ok(Page {
        items: rows,
        total: found.total,
        page: found.page,
        per_page: found.per_page,
    })
}

#[server(endpoint = "get_audit_event")]
pub async fn get_audit_event(id: String) -> Result<AuditEvent, ServerFnError> {
    use crate::server::services::audit;
    let (svc, actor) = actor().await?;
    audit::get(&svc, &actor, &id).await.map_err(fail)
}

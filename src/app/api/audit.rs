use leptos::prelude::*;

use crate::domain::audit::AuditEvent;
use crate::domain::page::Page;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail};

#[server(endpoint = "list_audit")]
pub async fn list_audit(
    tenant_id: String,
    action: String,
    page: u32,
) -> Result<Page<AuditEvent>, ServerFnError> {
    use crate::domain::page::PageRequest;
    use crate::server::services::audit::{self, Filter};
    let (svc, actor) = actor().await?;
    let filter = Filter {
        tenant_id: Some(tenant_id),
        action: Some(action),
    };
    audit::list(&svc, &actor, filter, PageRequest::new(Some(page), None))
        .await
        .map_err(fail)
}

//! Erasing a deleted tenant's data store, wherever it lived (and where a
//! move was taking it), with the outcome in the audit trail.

use serde_json::json;

use crate::domain::audit::{AuditAction, AuditStatus};
use crate::server::db::tenant_store::Placement;
use crate::server::services::audit::{self, Entry};
use crate::server::services::{Actor, Result, Services};

/// Removes a deleted tenant's data wherever it lived, and says so in the audit trail.
pub(super) async fn erase(svc: &Services, actor: &Actor, placement: &Placement) -> Result<()> {
    let tenant_id = &placement.tenant_id;
    let mut erased = Vec::new();
    let mut failure = None;
    for location in std::iter::once(&placement.location).chain(placement.target.iter()) {
        match svc.stores.erase(tenant_id, location).await {
            Ok(rows) => erased.push(json!({
                "level": location.level(),
                "store": location.describe(svc.db.backend),
                "rows": rows,
            })),
            Err(e) => failure = Some(e),
        }
    }
    let status = if failure.is_some() {
        AuditStatus::Failure
    } else {
        AuditStatus::Success
    };
    let entry = Entry::success(AuditAction::TenantErase, "tenant", tenant_id)
        .tenant(tenant_id)
        .status(status)
        .details(json!({
            "erased": erased,
            "error": failure.as_ref().map(ToString::to_string),
        }));
    audit::append(svc, actor, entry).await?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

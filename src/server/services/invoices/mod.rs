//! Invoices (see `domain::invoice`): a month's draft computed live from the
//! ledger, issued once the month has closed and the grace period for late
//! events has passed (by `issue`, or by the background issuer), then read
//! back exactly as stored.

mod gather;
mod issuer;

pub use issuer::run_once as issue_due;

use serde_json::json;

use super::audit::Entry;
use super::{new_id, tenants, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::invoice::{Invoice, InvoiceStatus, Month};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, Millis};
use crate::domain::validation::Invalid;

/// The month's invoice: the issued one as stored, else the live draft.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id, %month))]
pub async fn get(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    month: Month,
) -> Result<Invoice> {
    actor.require(tenant_id, Access::Read)?;
    let what = format!("invoice {month}");
    super::compliance::report::note_read(svc, actor, Some(tenant_id), &what).await?;
    match stored(svc, tenant_id, month).await? {
        Some(inv) => Ok(inv),
        None => gather::draft(svc, actor, tenant_id, month).await,
    }
}

/// The tenant's issued invoices, newest first, then the open months'
/// drafts (this month, and last month until it is issued).
pub async fn list(svc: &Services, actor: &Actor, tenant_id: &TenantId) -> Result<Vec<Invoice>> {
    actor.require(tenant_id, Access::Read)?;
    let docs: Vec<String> = sqlx::query_scalar(
        "SELECT document FROM invoices WHERE tenant_id = $1 ORDER BY month DESC",
    )
    .bind(tenant_id.as_str())
    .fetch_all(&svc.db.pool)
    .await?;
    let mut issued = docs.iter().map(|d| parse(d)).collect::<Result<Vec<_>>>()?;
    let created_at = tenants::get(svc, actor, tenant_id).await?.created_at;
    let this = Month::of(now_millis());
    let mut out = Vec::new();
    for month in [this, this.prev()] {
        // A month that ended before the tenant existed bills nothing, and
        // the issuer never issues it: no draft either.
        let before_tenant = month.window().1 <= created_at;
        if !before_tenant && !issued.iter().any(|i| i.month == month) {
            out.push(gather::draft(svc, actor, tenant_id, month).await?);
        }
    }
    out.append(&mut issued);
    Ok(out)
}

/// When `month` may be issued: its end plus the grace period.
pub fn issuable_from(svc: &Services, month: Month) -> Millis {
    month.window().1 + svc.config.invoice_grace_secs.saturating_mul(1000) as Millis
}

/// Issues the month's invoice (platform admins; idempotent: an issued
/// invoice is returned as it is). Refused while the month, or its grace
/// period, is still open.
#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id, %month))]
pub async fn issue(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    month: Month,
) -> Result<Invoice> {
    actor.require_platform_admin()?;
    let tenant = tenants::get(svc, actor, tenant_id).await?;
    if let Some(inv) = stored(svc, tenant_id, month).await? {
        return Ok(inv);
    }
    let from = issuable_from(svc, month);
    if now_millis() < from {
        return Err(Invalid::new(
            "month",
            format!(
                "{month} can be issued from {} (its end plus the {} s grace period for late usage)",
                crate::domain::time::rfc3339(from),
                svc.config.invoice_grace_secs
            ),
        )
        .into());
    }
    // Two issuers at once: the number or the (tenant, month) key refuses
    // the second; it tries again and finds the invoice issued.
    for _ in 0..5 {
        let mut inv = gather::draft(svc, actor, tenant_id, month).await?;
        match insert(svc, actor, &mut inv, &tenant.name).await {
            Ok(()) => return Ok(inv),
            Err(ServiceError::Conflict(_)) => {
                if let Some(inv) = stored(svc, tenant_id, month).await? {
                    return Ok(inv);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(ServiceError::Unavailable(
        "invoice numbering is busy; try again".into(),
    ))
}

async fn insert(svc: &Services, actor: &Actor, inv: &mut Invoice, tenant_name: &str) -> Result<()> {
    let mut tx = svc.db.pool.begin().await?;
    // The month's sequence, in the same transaction: a number is never
    // given twice, whatever has been deleted since.
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO invoice_sequences (month, last) VALUES ($1, 1) \
         ON CONFLICT (month) DO UPDATE SET last = invoice_sequences.last + 1 RETURNING last",
    )
    .bind(inv.month.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let number = Invoice::number_for(inv.month, seq);
    inv.status = InvoiceStatus::Issued;
    inv.number = Some(number.clone());
    inv.issued_at = Some(now_millis());
    inv.tenant_name = tenant_name.to_string();
    let document =
        serde_json::to_string(&inv).map_err(|e| ServiceError::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO invoices (id, tenant_id, month, number, issued_at, usage_micros, \
         total_micros, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(inv.tenant_id.as_str())
    .bind(inv.month.to_string())
    .bind(&number)
    .bind(inv.issued_at)
    .bind(inv.usage_micros)
    .bind(inv.total_micros)
    .bind(document)
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on("invoice"))?;
    let entry = Entry::success(AuditAction::InvoiceIssue, "invoice", &number)
        .tenant(&inv.tenant_id)
        .details(
            json!({ "month": inv.month, "total_micros": inv.total_micros,
                         "usage_micros": inv.usage_micros }),
        );
    super::audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

async fn stored(svc: &Services, tenant_id: &TenantId, month: Month) -> Result<Option<Invoice>> {
    let doc: Option<String> =
        sqlx::query_scalar("SELECT document FROM invoices WHERE tenant_id = $1 AND month = $2")
            .bind(tenant_id.as_str())
            .bind(month.to_string())
            .fetch_optional(&svc.db.pool)
            .await?;
    doc.map(|d| parse(&d)).transpose()
}

fn parse(doc: &str) -> Result<Invoice> {
    serde_json::from_str(doc)
        .map_err(|e| ServiceError::Internal(format!("stored invoice unreadable: {e}")))
}

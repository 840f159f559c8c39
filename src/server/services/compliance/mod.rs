//! Compliance evidence (issue 22): the request log, records of processing,
//! access and erasure, issued as signed, stored reports. Every report is
//! built from the data map and the facts the ledger and audit trail hold.

pub mod access;
pub mod breaches;
pub mod erasure;
pub mod evidence;
pub mod pack;
pub mod report;
pub mod request_log;
pub mod ropa;

use serde_json::{json, Value};

use super::{tenants, Actor, Result, Services};
use crate::domain::compliance::{Period, ReportKind};
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::validation::Invalid;

/// What a report request names.
pub struct Request<'a> {
    pub kind: ReportKind,
    pub tenant: Option<&'a TenantId>,
    pub period: Period,
    pub subject: Option<&'a str>,
}

/// Generates, signs, stores and audits a report; returns the document.
#[tracing::instrument(level = "debug", skip_all, fields(kind = %req.kind))]
pub async fn generate(svc: &Services, actor: &Actor, req: Request<'_>) -> Result<Value> {
    report::require(actor, req.tenant)?;
    within_daily_quota(svc, req.tenant).await?;
    let tenant = match req.tenant {
        Some(id) => Some(tenants::get(svc, actor, id).await?),
        None => None,
    };
    let (body, subject_hash) = match (req.kind, &tenant) {
        (ReportKind::Ropa, Some(t)) => (ropa::controller(svc, t, &req.period).await?, None),
        (ReportKind::Processor, _) => {
            let all = match &tenant {
                Some(t) => vec![t.clone()],
                None => all_tenants(svc, actor).await?,
            };
            (ropa::processor(svc, &all, &req.period).await?, None)
        }
        (ReportKind::Access, Some(t)) => {
            let raw = req
                .subject
                .ok_or_else(|| Invalid::new("subject", "an access report needs --subject"))?;
            let s = access::Subject::new(svc, t, raw)?;
            let hash = s.hash().to_string();
            (access::body(svc, t, &s, &req.period).await?, Some(hash))
        }
        (ReportKind::Soc2, _) => {
            let all = match &tenant {
                Some(t) => vec![t.clone()],
                None => all_tenants(svc, actor).await?,
            };
            let body = evidence::body(svc, actor, &all, req.tenant, &req.period).await?;
            (body, None)
        }
        (ReportKind::Erasure, _) => {
            return Err(Invalid::new("kind", "erasure receipts come from erasing").into())
        }
        (_, None) => return Err(Invalid::new("tenant", "this report is per tenant").into()),
    };
    report::note_read(svc, actor, req.tenant, req.kind.as_str()).await?;
    let issue = report::Issue {
        kind: req.kind,
        tenant_id: req.tenant,
        period: &req.period,
        subject_hash: subject_hash.as_deref(),
        body,
    };
    report::issue(svc, actor, issue).await
}

/// Reports one tenant (or the platform) may generate in a day: each walks
/// the ledger and the audit chain, and is stored for good. Erasure
/// receipts come from erasing and are never refused.
pub const MAX_REPORTS_PER_DAY: i64 = 100;

async fn within_daily_quota(svc: &Services, tenant: Option<&TenantId>) -> Result<()> {
    let since = crate::domain::time::now_millis() - 86_400_000;
    let made: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM compliance_reports \
         WHERE (tenant_id = $1 OR ($1 IS NULL AND tenant_id IS NULL)) \
         AND created_at >= $2 AND kind <> 'erasure'",
    )
    .bind(tenant)
    .bind(since)
    .fetch_one(&svc.db.pool)
    .await?;
    if made >= MAX_REPORTS_PER_DAY {
        return Err(super::ServiceError::TooManyAttempts(format!(
            "at most {MAX_REPORTS_PER_DAY} reports a day here; the issued ones stay listed"
        )));
    }
    Ok(())
}

async fn all_tenants(svc: &Services, actor: &Actor) -> Result<Vec<Tenant>> {
    let mut out = Vec::new();
    for (id, _) in tenants::names(svc, actor).await? {
        out.push(tenants::get(svc, actor, &TenantId::parse(&id)?).await?);
    }
    Ok(out)
}

/// Erasures and purges of the tenant's data after `since`: a re-generated
/// report of a closed period differs only by these, and names them.
pub(crate) async fn changes_since(
    svc: &Services,
    tenant_id: Option<&TenantId>,
    since: i64,
) -> Result<Vec<Value>> {
    let Some(t) = tenant_id else {
        return Ok(Vec::new());
    };
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT action, at, id FROM audit_events WHERE chain = $1 AND at >= $2 \
         AND action IN ('compliance.erase', 'request_log.purge', 'audit.purge') \
         ORDER BY at, id LIMIT 1000",
    )
    .bind(t.as_str())
    .bind(since)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(action, at, id)| json!({ "action": action, "at": at, "audit_event": id }))
        .collect())
}

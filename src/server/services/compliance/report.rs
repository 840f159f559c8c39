//! Issued reports: each body is canonical JSON, hashed, and the document
//! around it (id, kind, period, generation time, Atrium version, hash) is
//! signed with the deployment's Ed25519 report key. Issued documents are
//! stored and never change, like invoices; they download again byte for byte.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::FromRow;

use super::super::audit::{self, Entry};
use super::super::{Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::compliance::{canonical, Period, ReportKind, ReportSummary};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, rfc3339};
use crate::server::crypto::report_key::Signed;

/// Reports listed per page.
const LIST_LIMIT: i64 = 200;

/// What a new report is about.
pub struct Issue<'a> {
    pub kind: ReportKind,
    pub tenant_id: Option<&'a TenantId>,
    pub period: &'a Period,
    /// The subject's hash, for access reports and receipts: erasure finds
    /// and removes access reports about the subject by it.
    pub subject_hash: Option<&'a str>,
    pub body: Value,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Builds, signs, stores and audits a report; returns the document.
pub async fn issue(svc: &Services, actor: &Actor, new: Issue<'_>) -> Result<Value> {
    let id = format!("rpt_{}", uuid::Uuid::new_v4().simple());
    let body_sha256 = sha256_hex(&canonical(&new.body));
    let now = now_millis();
    let mut doc = json!({
        "id": id,
        "kind": new.kind,
        "tenant_id": new.tenant_id,
        "period": { "from": new.period.from_day, "to": new.period.to_day,
                    "from_ms": new.period.from, "to_ms": new.period.to },
        "generated_at": rfc3339(now),
        "atrium_version": env!("CARGO_PKG_VERSION"),
        "body_sha256": body_sha256,
        "body": new.body,
    });
    let signed = svc.secrets.reports().sign(canonical(&doc).as_bytes());
    doc["signature"] = json!({ "algorithm": "Ed25519", "key_id": signed.key_id,
                               "public_key": signed.public_key, "signature": signed.signature });
    let stored = serde_json::to_string_pretty(&doc)
        .map_err(|e| ServiceError::Internal(format!("encoding a report: {e}")))?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO compliance_reports (id, tenant_id, kind, period_from, period_to, \
         subject_hash, created_at, created_by, body_sha256, document) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(new.tenant_id)
    .bind(new.kind.as_str())
    .bind(new.period.from)
    .bind(new.period.to)
    .bind(new.subject_hash)
    .bind(now)
    .bind(actor.audit_name())
    .bind(&body_sha256)
    .bind(&stored)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::ComplianceReport, "compliance_report", &id)
        .tenant_opt(new.tenant_id)
        .details(json!({ "kind": new.kind, "from": new.period.from_day,
                         "to": new.period.to_day, "body_sha256": body_sha256 }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(doc)
}

/// Who may generate or read a tenant's reports: its admins and platform
/// admins (the platform's own reports: platform admins only).
pub fn require(actor: &Actor, tenant_id: Option<&TenantId>) -> Result<()> {
    match tenant_id {
        Some(t) => actor.require(t, Access::Manage),
        None => actor.require_platform_admin(),
    }
}

/// A platform admin reading a tenant's data leaves a `data.read` event in
/// that tenant's own chain (access transparency). People only: a portal
/// user, or an operator at the CLI; the server's own jobs and benches
/// read without a trace.
pub async fn note_read(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
    what: &str,
) -> Result<()> {
    let person = actor.user_id.is_some()
        || actor.label.starts_with("cli:")
        || actor.label.starts_with("token:");
    let Some(t) = tenant_id.filter(|_| actor.role.is_platform() && person) else {
        return Ok(());
    };
    let entry = Entry::success(AuditAction::DataRead, "tenant", t)
        .tenant(t)
        .details(json!({ "read": what }));
    audit::append(svc, actor, entry).await
}

#[derive(FromRow)]
struct SummaryRow {
    id: String,
    kind: String,
    tenant_id: Option<String>,
    period_from: i64,
    period_to: i64,
    created_at: i64,
    created_by: String,
    body_sha256: String,
}

/// A tenant's reports (or the platform's, with `None`), newest first.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
) -> Result<Vec<ReportSummary>> {
    require(actor, tenant_id)?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT id, kind, tenant_id, period_from, period_to, created_at, created_by, body_sha256 \
         FROM compliance_reports WHERE (tenant_id = $1 OR ($1 IS NULL AND tenant_id IS NULL)) \
         ORDER BY created_at DESC, id LIMIT {LIST_LIMIT}"
    ))
    .bind(tenant_id)
    .fetch_all(&svc.db.pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ReportSummary {
                kind: r.kind.parse()?,
                id: r.id,
                tenant_id: r.tenant_id,
                period_from: r.period_from,
                period_to: r.period_to,
                created_at: r.created_at,
                created_by: r.created_by,
                body_sha256: r.body_sha256,
            })
        })
        .collect()
}

/// An issued document as stored, after checking the reader may see it.
pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<(ReportKind, String)> {
    let row: Option<(Option<TenantId>, String, String)> =
        sqlx::query_as("SELECT tenant_id, kind, document FROM compliance_reports WHERE id = $1")
            .bind(id)
            .fetch_optional(&svc.db.pool)
            .await?;
    let (tenant_id, kind, document) = row.ok_or(ServiceError::NotFound("report"))?;
    require(actor, tenant_id.as_ref()).map_err(|_| ServiceError::NotFound("report"))?;
    note_read(svc, actor, tenant_id.as_ref(), id).await?;
    Ok((kind.parse()?, document))
}

/// Why a document does not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    #[error("not a report document: {0}")]
    Unreadable(String),
    #[error("the body does not match its SHA-256")]
    BodyChanged,
    #[error("the signature does not verify under this deployment's keys")]
    BadSignature,
}

/// Checks a document's body hash and signature, under the current key or
/// a retired one. Needs no database: a report verifies anywhere the
/// deployment's secrets are.
pub fn verify(svc: &Services, text: &str) -> std::result::Result<Value, Unverified> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|e| Unverified::Unreadable(e.to_string()))?;
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let sig = doc
        .as_object_mut()
        .and_then(|o| o.remove("signature"))
        .ok_or_else(|| Unverified::Unreadable("no signature".into()))?;
    let body = doc
        .get("body")
        .ok_or_else(|| Unverified::Unreadable("no body".into()))?;
    if field(&doc, "body_sha256") != Some(sha256_hex(&canonical(body))) {
        return Err(Unverified::BodyChanged);
    }
    let signed = Signed {
        key_id: field(&sig, "key_id").unwrap_or_default(),
        public_key: field(&sig, "public_key").unwrap_or_default(),
        signature: field(&sig, "signature").unwrap_or_default(),
    };
    if !svc
        .secrets
        .reports()
        .verify(canonical(&doc).as_bytes(), &signed)
    {
        return Err(Unverified::BadSignature);
    }
    doc["signature"] = sig;
    Ok(doc)
}

/// A stored SOC 2 document's evidence pack; other reports have none.
pub fn pack_zip(doc: &Value) -> Result<Vec<u8>> {
    if doc["kind"] != "soc2" {
        let why = "zip packs are for soc2 evidence";
        return Err(crate::domain::validation::Invalid::new("format", why).into());
    }
    super::pack::zip(doc)
}

//! Access and portability (GDPR Art. 15 and 20): everything the tenant's
//! part of Atrium holds about one subject, found through the request log's
//! keyed subject index and the portal's own records.

use serde_json::{json, Value};

use super::super::{sessions, Result, Services};
use crate::domain::compliance::{jurisdiction, Period};
use crate::domain::request_log::{normalise_subject, LoggedRequest};
use crate::domain::tenant::Tenant;
use crate::domain::validation::Invalid;
use crate::server::db::tenant_store::ProcessingRow;

/// Audit events listed per subject at most.
const MAX_EVENTS: i64 = 10_000;

/// A subject as typed, with the one spelling it is indexed under and the
/// hashes (current key first, then retired ones) it may be found by.
pub struct Subject {
    pub given: String,
    pub normalised: String,
    pub hashes: Vec<String>,
}

impl Subject {
    pub fn new(svc: &Services, t: &Tenant, raw: &str) -> Result<Self> {
        let normalised = normalise_subject(raw).ok_or_else(|| {
            Invalid::new(
                "subject",
                "must be an e-mail, a phone number or an end-user id (1 to 256 bytes)",
            )
        })?;
        let hashes = svc.secrets.reports().subject_hashes(&t.id, &normalised);
        Ok(Subject {
            given: raw.trim().to_string(),
            normalised,
            hashes,
        })
    }

    /// The hash reports name the subject by (the current key's).
    pub fn hash(&self) -> &str {
        &self.hashes[0]
    }

    /// The forms an end-user id may have been stored in on ledger rows.
    pub fn end_user_forms(&self) -> Vec<String> {
        let mut forms = vec![self.given.clone(), self.normalised.clone()];
        forms.dedup();
        forms
    }
}

/// The subject's portal account in this tenant, if the identifier is one.
#[derive(sqlx::FromRow)]
pub(super) struct Account {
    pub id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

pub(super) async fn account(svc: &Services, t: &Tenant, s: &Subject) -> Result<Option<Account>> {
    Ok(sqlx::query_as(
        "SELECT id, email, role, created_at, disabled_at FROM users \
         WHERE tenant_id = $1 AND LOWER(email) = $2",
    )
    .bind(&t.id)
    .bind(&s.normalised)
    .fetch_optional(&svc.db.pool)
    .await?)
}

/// Sign-in throttle rows keyed by the account's e-mail.
async fn throttles(svc: &Services, email: &str) -> Result<Vec<Value>> {
    let key = format!("account:{email}");
    let prefix = format!("{key}|");
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT key, failures, last_at FROM sign_in_throttle \
         WHERE key = $1 OR SUBSTR(key, 1, CAST($2 AS INTEGER)) = $3 ORDER BY key",
    )
    .bind(&key)
    .bind(prefix.chars().count() as i64)
    .bind(&prefix)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(k, f, at)| json!({ "key": k, "failures": f, "last_at": at }))
        .collect())
}

/// Audit events in the tenant's chain by or about the account.
async fn events(svc: &Services, t: &Tenant, a: &Account, period: &Period) -> Result<Vec<Value>> {
    let rows: Vec<(String, i64, String, String, Option<String>, String)> =
        sqlx::query_as(&format!(
            "SELECT id, at, actor, action, resource_id, status FROM audit_events \
         WHERE chain IN ($1, 'platform') AND at >= $2 AND at < $3 \
         AND (actor IN ($4, $5, $7) OR resource_id IN ($6, $7)) ORDER BY at, id LIMIT {MAX_EVENTS}"
        ))
        .bind(t.id.as_str())
        .bind(period.from)
        .bind(period.to)
        .bind(&a.email)
        .bind(format!("user:{}", a.id))
        .bind(&a.id)
        .bind(sessions::attempt_name(svc, &a.email))
        .fetch_all(&svc.db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, actor, action, resource, status)| {
            json!({ "id": id, "at": at, "actor": actor, "action": action,
                    "resource_id": resource, "status": status })
        })
        .collect())
}

/// The providers the subject's requests reached, as recipients.
pub(super) fn recipients(rows: &[LoggedRequest]) -> Vec<Value> {
    let mut seen: Vec<ProcessingRow> = Vec::new();
    for r in rows {
        let Some(p) = &r.provider else { continue };
        let region = r.provider_region.clone();
        match seen
            .iter_mut()
            .find(|s| s.provider.as_ref() == Some(p) && s.provider_region == region)
        {
            Some(s) => s.requests += 1,
            None => seen.push(ProcessingRow {
                provider: Some(p.clone()),
                provider_region: region,
                pii_classes: 0,
                requests: 1,
            }),
        }
    }
    seen.iter()
        .map(|s| {
            let region = s.provider_region.clone().unwrap_or_default();
            json!({ "provider": s.provider, "region": region, "requests": s.requests,
                    "jurisdiction": jurisdiction(&region).unwrap_or_else(|| "unpinned".into()) })
        })
        .collect()
}

/// The access report's body.
pub async fn body(svc: &Services, t: &Tenant, s: &Subject, period: &Period) -> Result<Value> {
    let store = svc.stores.open(&t.id).await?;
    let (rows, truncated) = store
        .logged_for(&s.hashes, (period.from, period.to))
        .await?;
    let account = account(svc, t, s).await?;
    let portal = match &account {
        Some(a) => json!({
            "user_id": a.id, "email": a.email, "role": a.role,
            "created_at": a.created_at, "disabled_at": a.disabled_at,
            "sign_in_throttle": throttles(svc, &a.email).await?,
            "audit_events": events(svc, t, a, period).await?,
        }),
        None => Value::Null,
    };
    Ok(json!({
        "article": "GDPR Art. 15 and 20",
        "tenant_id": t.id,
        "subject": { "identifier": s.given, "normalised": s.normalised, "hash": s.hash() },
        "requests": rows,
        "requests_truncated": truncated,
        "portal_account": portal,
        "purposes": ["answering the tenant's API clients through language-model providers",
                     "metering and billing", "security and audit"],
        "recipients": recipients(&rows),
        "retention": { "request_log": t.request_log, "audit_events_days": t.audit_retention_days },
        "source": "prompts sent by the tenant's API clients, and the tenant's portal",
        "rights": ["rectification (Art. 16)", "erasure (Art. 17)", "restriction (Art. 18)",
                   "portability (Art. 20): this JSON is the portable format",
                   "objection (Art. 21)", "complaint to a supervisory authority (Art. 77)"],
        "changes_since_period_end": super::changes_since(svc, Some(&t.id), period.to).await?,
    }))
}

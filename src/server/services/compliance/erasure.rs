//! Erasure (GDPR Art. 17): a subject's request-log rows and index entries,
//! the end-user id on their ledger rows, their portal account (a real
//! delete, with its sessions and throttle rows) and access reports about
//! them. The audit chain stays verifiable: it only gains the erase event.
//! A signed receipt lists what was removed and who had received the data
//! (Art. 17(2)).

use serde_json::{json, Value};

use super::super::audit::{self, Entry};
use super::super::{Actor, Result, Services};
use super::access::{self, Subject};
use super::report::{self, Issue};
use crate::domain::audit::AuditAction;
use crate::domain::compliance::{Period, ReportKind};
use crate::domain::tenant::Tenant;
use crate::domain::time::{now_millis, rfc3339};

/// Erases the subject from the tenant and returns the signed receipt.
pub async fn erase(svc: &Services, actor: &Actor, t: &Tenant, raw: &str) -> Result<Value> {
    report::require(actor, Some(&t.id))?;
    let s = Subject::new(svc, t, raw)?;
    // No move of the tenant's data starts while this holds it: a move's
    // copy could otherwise carry rows into the new store after they were
    // deleted from the old one.
    let hold = svc.stores.hold_for_erasure(&t.id).await?;
    let erased = svc
        .stores
        .while_held(&hold, erase_in_store(svc, t, &s))
        .await;
    if let Err(e) = svc.stores.release_erasure(hold).await {
        // The erasure happened; the hold's drop tries again, its lease ends it.
        tracing::warn!(error = %e, tenant_id = %t.id, "releasing an erasure hold failed");
    }
    let (recipients, mut removed) = erased?;
    removed.extend(erase_account(svc, t, &s).await?);
    let mut reports = 0;
    for h in &s.hashes {
        reports += sqlx::query(
            "DELETE FROM compliance_reports WHERE tenant_id = $1 AND kind = 'access' \
             AND subject_hash = $2",
        )
        .bind(&t.id)
        .bind(h)
        .execute(&svc.db.pool)
        .await?
        .rows_affected();
    }
    removed.push(json!({ "table": "compliance_reports (access reports)", "rows": reports }));
    let now = now_millis();
    let entry = Entry::success(AuditAction::ComplianceErase, "subject", s.hash())
        .tenant(&t.id)
        .details(json!({ "removed": removed }));
    audit::append(svc, actor, entry).await?;
    let today = rfc3339(now).chars().take(10).collect::<String>();
    let period = Period {
        from: 0,
        to: now,
        from_day: String::new(),
        to_day: today,
    };
    let body = json!({
        "article": "GDPR Art. 17",
        "tenant_id": t.id,
        "subject_hash": s.hash(),
        "erased_at": rfc3339(now),
        "removed": removed,
        "recipients_informed_under_art_17_2": recipients,
        "kept": ["ledger rows (billing, Art. 17(3)(b)), without the end-user id",
                 "audit events (Art. 17(3)(b) and (e)); the chain still verifies",
                 "issued SOC 2 evidence and access-review records naming a portal user \
                  (Art. 17(3)(b): security evidence, unchanged once issued)"],
    });
    let issue = Issue {
        kind: ReportKind::Erasure,
        tenant_id: Some(&t.id),
        period: &period,
        subject_hash: Some(s.hash()),
        body,
    };
    report::issue(svc, actor, issue).await
}

/// The subject's rows in the tenant's store, and who received them
/// (providers, not text, read before the rows go).
async fn erase_in_store(
    svc: &Services,
    t: &Tenant,
    s: &Subject,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let store = svc.stores.open(&t.id).await?;
    let recipients: Vec<Value> = store
        .recipients_for(&s.hashes)
        .await?
        .into_iter()
        .map(|(provider, region, n)| {
            let j = crate::domain::compliance::jurisdiction(&region);
            json!({ "provider": provider, "region": region, "requests": n,
                    "jurisdiction": j.unwrap_or_else(|| "unpinned".into()) })
        })
        .collect();
    let removed: Vec<Value> = store
        .erase_subject(&s.hashes, &s.end_user_forms())
        .await?
        .into_iter()
        .map(|(table, rows)| json!({ "table": table, "rows": rows }))
        .collect();
    Ok((recipients, removed))
}

/// Deletes the subject's portal account in this tenant, if it is one.
async fn erase_account(svc: &Services, t: &Tenant, s: &Subject) -> Result<Vec<Value>> {
    let Some(a) = access::account(svc, t, s).await? else {
        return Ok(Vec::new());
    };
    let mut tx = svc.db.pool.begin().await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(&a.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let key = format!("account:{}", a.email);
    let prefix = format!("{key}|");
    let throttles = sqlx::query(
        "DELETE FROM sign_in_throttle WHERE key = $1 OR SUBSTR(key, 1, CAST($2 AS INTEGER)) = $3",
    )
    .bind(&key)
    .bind(prefix.chars().count() as i64)
    .bind(&prefix)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let users = sqlx::query("DELETE FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(&a.id)
        .bind(&t.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(vec![
        json!({ "table": "users", "rows": users }),
        json!({ "table": "sessions", "rows": sessions }),
        json!({ "table": "sign_in_throttle", "rows": throttles }),
    ])
}

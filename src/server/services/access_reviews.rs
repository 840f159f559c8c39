//! Access reviews: a snapshot of who and what can reach a tenant (its
//! enabled users and live API keys), or the platform (its admins), each
//! attested by an admin as still needed or revoked on the spot. A review
//! closes when every item is decided. Every step is audited.

use serde_json::json;
use sqlx::FromRow;

use super::audit::{self, Entry};
use super::{api_keys, new_id, users, Actor, Result, ServiceError, Services};
use crate::domain::access_review::{AccessReview, Decision, ReviewItem, SubjectKind};
use crate::domain::audit::AuditAction;
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;

/// Items per review at most: a tenant with more is reviewed in parts.
const MAX_ITEMS: i64 = 5_000;

fn require(actor: &Actor, tenant_id: Option<&str>) -> Result<()> {
    match tenant_id {
        Some(t) => actor.require(t, Access::Manage),
        None => actor.require_platform_admin(),
    }
}

/// Who and what can reach the tenant now (or the platform's admins).
async fn subjects(
    svc: &Services,
    tenant: Option<&TenantId>,
) -> Result<Vec<(SubjectKind, String, String)>> {
    let users: Vec<(String, String, String)> = sqlx::query_as(&format!(
        "SELECT id, email, role FROM users WHERE disabled_at IS NULL AND \
         (($1 IS NULL AND tenant_id IS NULL) OR tenant_id = $1) ORDER BY email LIMIT {MAX_ITEMS}"
    ))
    .bind(tenant)
    .fetch_all(&svc.db.pool)
    .await?;
    let mut out: Vec<_> = users
        .into_iter()
        .map(|(id, email, role)| (SubjectKind::User, id, format!("{email} ({role})")))
        .collect();
    if let Some(t) = tenant {
        let keys: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT id, name, prefix FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY name LIMIT {MAX_ITEMS}"
        ))
        .bind(t)
        .bind(now_millis())
        .fetch_all(&svc.db.pool)
        .await?;
        out.extend(
            keys.into_iter()
                .map(|(id, name, prefix)| (SubjectKind::ApiKey, id, format!("{name} ({prefix}…)"))),
        );
    }
    Ok(out)
}

/// Starts a review of the tenant (or the platform).
pub async fn start(
    svc: &Services,
    actor: &Actor,
    tenant: Option<&TenantId>,
) -> Result<AccessReview> {
    require(actor, tenant.map(TenantId::as_str))?;
    let items = subjects(svc, tenant).await?;
    let id = format!("rev_{}", new_id().replace('-', ""));
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO access_reviews (id, tenant_id, started_at, started_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(now_millis())
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await?;
    for (kind, sid, label) in &items {
        sqlx::query(
            "INSERT INTO access_review_items (review_id, subject_kind, subject_id, label) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(kind.as_str())
        .bind(sid)
        .bind(label)
        .execute(&mut *tx)
        .await?;
    }
    let entry = Entry::success(AuditAction::AccessReviewStart, "access_review", &id)
        .tenant_opt(tenant)
        .details(json!({ "items": items.len() }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    get(svc, actor, &id).await
}

#[derive(FromRow)]
struct ReviewRow {
    id: String,
    tenant_id: Option<String>,
    started_at: i64,
    started_by: String,
    closed_at: Option<i64>,
}

#[derive(FromRow)]
struct ItemRow {
    subject_kind: String,
    subject_id: String,
    label: String,
    decision: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
}

async fn load(svc: &Services, r: ReviewRow) -> Result<AccessReview> {
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT subject_kind, subject_id, label, decision, decided_by, decided_at \
         FROM access_review_items WHERE review_id = $1 ORDER BY subject_kind DESC, label",
    )
    .bind(&r.id)
    .fetch_all(&svc.db.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|i| {
            Ok(ReviewItem {
                kind: i.subject_kind.parse()?,
                decision: i.decision.map(|d| d.parse()).transpose()?,
                id: i.subject_id,
                label: i.label,
                decided_by: i.decided_by,
                decided_at: i.decided_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AccessReview {
        id: r.id,
        tenant_id: r.tenant_id,
        started_at: r.started_at,
        started_by: r.started_by,
        closed_at: r.closed_at,
        items,
    })
}

pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<AccessReview> {
    let row: Option<ReviewRow> = sqlx::query_as(
        "SELECT id, tenant_id, started_at, started_by, closed_at FROM access_reviews WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let row = row.ok_or(ServiceError::NotFound("access review"))?;
    require(actor, row.tenant_id.as_deref())
        .map_err(|_| ServiceError::NotFound("access review"))?;
    load(svc, row).await
}

/// The tenant's reviews (the platform's with `None`), newest first.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    tenant: Option<&TenantId>,
) -> Result<Vec<AccessReview>> {
    require(actor, tenant.map(TenantId::as_str))?;
    let rows: Vec<ReviewRow> = sqlx::query_as(
        "SELECT id, tenant_id, started_at, started_by, closed_at FROM access_reviews \
         WHERE ($1 IS NULL AND tenant_id IS NULL) OR tenant_id = $1 \
         ORDER BY started_at DESC, id LIMIT 100",
    )
    .bind(tenant)
    .fetch_all(&svc.db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(load(svc, r).await?);
    }
    Ok(out)
}

/// Attests one item: kept, or revoked now (the user disabled, the key
/// revoked). The review closes with its last decision.
pub async fn attest(
    svc: &Services,
    actor: &Actor,
    review_id: &str,
    (kind, subject_id): (SubjectKind, &str),
    decision: Decision,
) -> Result<AccessReview> {
    let review = get(svc, actor, review_id).await?;
    if review.closed_at.is_some() {
        return Err(ServiceError::Conflict("this review is closed".into()));
    }
    let item = review
        .items
        .iter()
        .find(|i| i.kind == kind && i.id == subject_id)
        .ok_or(ServiceError::NotFound("review item"))?;
    if item.decision.is_some() {
        return Err(ServiceError::Conflict(
            "this item is already attested".into(),
        ));
    }
    if decision == Decision::Revoke {
        match kind {
            SubjectKind::User => drop(users::set_disabled(svc, actor, subject_id, true).await?),
            SubjectKind::ApiKey => drop(api_keys::revoke(svc, actor, subject_id).await?),
        }
    }
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE access_review_items SET decision = $1, decided_by = $2, decided_at = $3 \
         WHERE review_id = $4 AND subject_kind = $5 AND subject_id = $6 AND decision IS NULL",
    )
    .bind(decision.as_str())
    .bind(actor.audit_name())
    .bind(now)
    .bind(review_id)
    .bind(kind.as_str())
    .bind(subject_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE access_reviews SET closed_at = $1 WHERE id = $2 AND NOT EXISTS \
         (SELECT 1 FROM access_review_items WHERE review_id = $2 AND decision IS NULL)",
    )
    .bind(now)
    .bind(review_id)
    .execute(&mut *tx)
    .await?;
    let tenant = review
        .tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()?;
    let entry = Entry::success(AuditAction::AccessReviewAttest, "access_review", review_id)
        .tenant_opt(tenant.as_ref())
        .details(json!({ "kind": kind, "id": subject_id, "decision": decision }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    get(svc, actor, review_id).await
}

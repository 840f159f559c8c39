//! A version's status moves and their audit entries: the one place a
//! status is written (only from the status the caller read) and billing
//! follows it. Below the lifecycle, validation and retirement, which all
//! move versions.

use serde_json::json;

use crate::domain::audit::AuditAction;
use crate::domain::custom_model::{CustomModel, Status};
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;
use crate::server::services::audit::Entry;
use crate::server::services::{control, Actor, Result, ServiceError, Services};

pub(super) enum Outcome {
    Valid {
        rank: Option<u32>,
        alpha: Option<f64>,
        targets: Vec<String>,
        note: Option<String>,
    },
    Invalid(String),
}

pub(super) fn entry<'a>(
    action: AuditAction,
    m: &'a CustomModel,
    tenant: &'a TenantId,
) -> Entry<'a> {
    Entry::success(action, "custom_model", &m.id).tenant(tenant)
}

pub(super) fn tenant_of(m: &CustomModel) -> Result<TenantId> {
    TenantId::parse(&m.tenant_id)
        .map_err(|_| ServiceError::Internal(format!("custom model {} has a bad tenant", m.id)))
}

/// A plain status move, audited with before and after.
pub(super) async fn set_status(
    svc: &Services,
    actor: &Actor,
    m: &CustomModel,
    next: Status,
    reason: Option<&str>,
    action: AuditAction,
) -> Result<()> {
    m.status.step(next)?;
    let tenant = tenant_of(m)?;
    let mut tx = svc.db.pool.begin().await?;
    if next == Status::Deploying {
        // Checked under the tenant's row lock, in the move's own
        // transaction: concurrent deploys cannot together pass the quota.
        control::lock_tenant(&mut tx, &m.tenant_id).await?;
        super::admission::within_pool_quota(&mut tx, m).await?;
    }
    write_status(&mut tx, m, next, reason).await?;
    let details = json!({ "name": m.name, "version": m.version, "before": m.status,
                          "after": next, "reason": reason });
    control::commit(
        svc,
        tx,
        actor,
        entry(action, m, &tenant).details(details),
        control::Caches::CATALOG,
    )
    .await
}

/// Moves only from the status the caller read, so two racing moves
/// cannot both pass the lifecycle check.
pub(super) async fn write_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &CustomModel,
    next: Status,
    reason: Option<&str>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE custom_models SET status = $1, status_reason = $2, updated_at = $3 \
         WHERE id = $4 AND status = $5",
    )
    .bind(next.as_str())
    .bind(reason)
    .bind(now_millis())
    .bind(&m.id)
    .bind(m.status.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ServiceError::Conflict(format!(
            "{} changed meanwhile; look again",
            m.versioned_name()
        )));
    }
    // Billing follows every move in and out of service, in this transaction.
    super::served::follow(tx, m, next).await
}

pub(super) async fn record_validation(
    svc: &Services,
    actor: &Actor,
    m: &CustomModel,
    outcome: Outcome,
) -> Result<()> {
    let tenant = tenant_of(m)?;
    let details = details(m, &outcome);
    let mut tx = svc.db.pool.begin().await?;
    match &outcome {
        Outcome::Valid {
            rank,
            alpha,
            targets,
            note,
        } => {
            write_status(&mut tx, m, m.status.step(Status::Ready)?, note.as_deref()).await?;
            sqlx::query(
                "UPDATE custom_models SET lora_rank = $1, lora_alpha = $2, target_modules = $3 \
                 WHERE id = $4",
            )
            .bind(rank.map(i64::from))
            .bind(alpha.map(|a| a.to_string()))
            .bind(serde_json::to_string(targets).unwrap_or_else(|_| "[]".into()))
            .bind(&m.id)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Invalid(reason) => {
            write_status(&mut tx, m, m.status.step(Status::Failed)?, Some(reason)).await?;
        }
    }
    let e = entry(AuditAction::CustomModelValidate, m, &tenant).details(details);
    control::commit(svc, tx, actor, e, control::Caches::CATALOG).await
}

/// For the audit trail: what validation concluded.
pub(super) fn details(m: &CustomModel, outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Valid {
            rank,
            targets,
            note,
            ..
        } => json!({ "name": m.name, "version": m.version,
            "after": Status::Ready, "rank": rank, "target_modules": targets, "note": note }),
        Outcome::Invalid(reason) => json!({ "name": m.name, "version": m.version,
            "after": Status::Failed, "reason": reason }),
    }
}

//! The breach register: record every breach (notified or not, Art.
//! 33(5)), the notification to the supervisory authority, the tenants the
//! operator informed as their processor (Art. 33(2)), and the Art. 34
//! decision. Every step is audited. Platform admins keep the register;
//! tenant admins record their own tenant's breaches and read those that
//! concern them.

use serde_json::json;
use sqlx::FromRow;

use super::super::audit::{self, Entry};
use super::super::{new_id, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::breach::{Art34Decision, Breach, NewBreach};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

const COLUMNS: &str = "id, tenant_id, detected_at, recorded_at, recorded_by, nature, categories, \
     subjects_approx, records_approx, consequences, measures, dpo, notified_at, \
     notification_ref, art34_decision, art34_reason";
/// Breaches listed at most.
const LIST_LIMIT: i64 = 500;

#[derive(FromRow)]
struct BreachRow {
    id: String,
    tenant_id: Option<String>,
    detected_at: i64,
    recorded_at: i64,
    recorded_by: String,
    nature: String,
    categories: String,
    subjects_approx: i64,
    records_approx: i64,
    consequences: String,
    measures: String,
    dpo: String,
    notified_at: Option<i64>,
    notification_ref: Option<String>,
    art34_decision: Option<String>,
    art34_reason: Option<String>,
}

impl BreachRow {
    fn into_breach(self, informed: Vec<(String, i64)>) -> Result<Breach> {
        let categories = serde_json::from_str(&self.categories)
            .map_err(|e| ServiceError::Internal(format!("breach categories: {e}")))?;
        Ok(Breach {
            id: self.id,
            tenant_id: self.tenant_id,
            recorded_at: self.recorded_at,
            recorded_by: self.recorded_by,
            facts: NewBreach {
                detected_at: self.detected_at,
                nature: self.nature,
                categories,
                subjects_approx: self.subjects_approx,
                records_approx: self.records_approx,
                consequences: self.consequences,
                measures: self.measures,
                dpo: self.dpo,
            },
            notified_at: self.notified_at,
            notification_ref: self.notification_ref,
            tenants_informed: informed,
            art34_decision: self.art34_decision.map(|d| d.parse()).transpose()?,
            art34_reason: self.art34_reason,
        })
    }
}

fn require(actor: &Actor, tenant_id: Option<&str>) -> Result<()> {
    match tenant_id {
        Some(t) => actor.require(t, Access::Manage),
        None => actor.require_platform_admin(),
    }
}

/// Records a breach: for a tenant (its admins may), or platform-wide.
pub async fn record(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
    new: NewBreach,
) -> Result<Breach> {
    require(actor, tenant_id.map(TenantId::as_str))?;
    let id = format!("brc_{}", new_id().replace('-', ""));
    let now = now_millis();
    let categories = serde_json::to_string(&new.categories)
        .map_err(|e| ServiceError::Internal(format!("breach categories: {e}")))?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO breaches ({COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, NULL, NULL, NULL, NULL, $4)"
    ))
    .bind(&id)
    .bind(tenant_id)
    .bind(new.detected_at)
    .bind(now)
    .bind(actor.audit_name())
    .bind(&new.nature)
    .bind(&categories)
    .bind(new.subjects_approx)
    .bind(new.records_approx)
    .bind(&new.consequences)
    .bind(&new.measures)
    .bind(&new.dpo)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::BreachRecord, "breach", &id)
        .tenant_opt(tenant_id)
        .details(
            json!({ "detected_at": new.detected_at, "categories": new.categories,
                         "subjects_approx": new.subjects_approx }),
        );
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    get(svc, actor, &id).await
}

/// One breach, if the actor may see it.
pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<Breach> {
    let row: Option<BreachRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM breaches WHERE id = $1"))
            .bind(id)
            .fetch_optional(&svc.db.pool)
            .await?;
    let row = row.ok_or(ServiceError::NotFound("breach"))?;
    let informed = informed(svc, id).await?;
    let visible = match (actor.scope()?, &row.tenant_id) {
        (None, _) => true,
        (Some(own), Some(t)) => own.as_str() == t && actor.require(own, Access::Manage).is_ok(),
        (Some(own), None) => informed.iter().any(|(t, _)| t == own.as_str()),
    };
    if !visible {
        return Err(ServiceError::NotFound("breach"));
    }
    row.into_breach(scoped(actor, informed)?)
}

async fn informed(svc: &Services, id: &str) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, informed_at FROM breach_notices WHERE breach_id = $1 ORDER BY tenant_id",
    )
    .bind(id)
    .fetch_all(&svc.db.pool)
    .await?)
}

/// The register as the actor may see it, newest first: everything for a
/// platform admin (or one tenant's, with `tenant`), a tenant's own breaches
/// and those it was informed of for its admins.
pub async fn list(svc: &Services, actor: &Actor, tenant: Option<&TenantId>) -> Result<Vec<Breach>> {
    let scope = match actor.scope()? {
        Some(own) => {
            actor.require(own, Access::Manage)?;
            Some(own.clone())
        }
        None => tenant.cloned(),
    };
    let rows: Vec<BreachRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM breaches WHERE $1 IS NULL OR tenant_id = $1 OR id IN \
         (SELECT breach_id FROM breach_notices WHERE tenant_id = $1) \
         ORDER BY detected_at DESC, id LIMIT {LIST_LIMIT}"
    ))
    .bind(scope.as_ref())
    .fetch_all(&svc.db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let informed = informed(svc, &row.id).await?;
        out.push(row.into_breach(scoped(actor, informed)?)?);
    }
    Ok(out)
}

/// A tenant's admins see only their own tenant among those informed.
fn scoped(actor: &Actor, informed: Vec<(String, i64)>) -> Result<Vec<(String, i64)>> {
    Ok(match actor.scope()? {
        Some(own) => informed
            .into_iter()
            .filter(|(t, _)| t == own.as_str())
            .collect(),
        None => informed,
    })
}

/// What happened after recording.
pub enum Step<'a> {
    /// The supervisory authority was notified at this time.
    Notified { at: i64, reference: Option<&'a str> },
    /// The operator informed this tenant (its controller).
    Informed(&'a TenantId),
    /// The Art. 34 decision, with its reason.
    Art34(Art34Decision, &'a str),
}

/// Records a step on a breach the actor may manage.
pub async fn step(svc: &Services, actor: &Actor, id: &str, step: Step<'_>) -> Result<Breach> {
    let b = get(svc, actor, id).await?;
    require(actor, b.tenant_id.as_deref())?;
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    let (action, details, chain_tenant) = match step {
        Step::Notified { at, reference } => {
            if at > now || at < b.facts.detected_at {
                return Err(Invalid::new("at", "must be between detection and now").into());
            }
            if reference.is_some_and(|r| r.chars().count() > 200 || r.chars().any(char::is_control))
            {
                return Err(
                    Invalid::new("reference", "is plain text of at most 200 characters").into(),
                );
            }
            sqlx::query("UPDATE breaches SET notified_at = $1, notification_ref = $2, updated_at = $3 WHERE id = $4")
                .bind(at).bind(reference).bind(now).bind(id).execute(&mut *tx).await?;
            (
                AuditAction::BreachNotify,
                json!({ "notified_at": at, "reference": reference }),
                None,
            )
        }
        Step::Informed(t) => {
            actor.require_platform_admin()?;
            sqlx::query("INSERT INTO breach_notices (breach_id, tenant_id, informed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(id).bind(t).bind(now).execute(&mut *tx).await?;
            (
                AuditAction::BreachInform,
                json!({ "tenant_id": t }),
                Some(t.clone()),
            )
        }
        Step::Art34(decision, reason) => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 4_000 {
                return Err(Invalid::new("reason", "is required, at most 4000 characters").into());
            }
            sqlx::query("UPDATE breaches SET art34_decision = $1, art34_reason = $2, updated_at = $3 WHERE id = $4")
                .bind(decision.as_str()).bind(reason).bind(now).bind(id).execute(&mut *tx).await?;
            (
                AuditAction::BreachArt34,
                json!({ "decision": decision, "reason": reason }),
                None,
            )
        }
    };
    // Informing a tenant is written into that tenant's own chain.
    let tenant =
        chain_tenant.or_else(|| b.tenant_id.as_deref().and_then(|t| TenantId::parse(t).ok()));
    let entry = Entry::success(action, "breach", id)
        .tenant_opt(tenant.as_ref())
        .details(details);
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    get(svc, actor, id).await
}

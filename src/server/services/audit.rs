//! The audit trail: every mutation and every sign-in leaves an `audit_event`.

use serde_json::Value;
use sqlx::{Any, Executor, FromRow};

use crate::domain::audit::{AuditEvent, AuditStatus};
use crate::domain::page::{Page, PageRequest};
use crate::domain::time::now_millis;

use super::{new_id, Actor, Result, Services};

/// What happened, before it is stamped with an id and a time.
pub struct Entry<'a> {
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub tenant_id: Option<&'a str>,
    pub status: AuditStatus,
    pub details: Value,
}

impl<'a> Entry<'a> {
    pub fn success(action: &'a str, resource_type: &'a str, resource_id: &'a str) -> Self {
        Self {
            action,
            resource_type,
            resource_id: Some(resource_id),
            tenant_id: None,
            status: AuditStatus::Success,
            details: Value::Object(Default::default()),
        }
    }

    pub fn tenant(self, tenant_id: &'a str) -> Self {
        self.tenant_opt(Some(tenant_id))
    }

    pub fn tenant_opt(mut self, tenant_id: Option<&'a str>) -> Self {
        self.tenant_id = tenant_id;
        self
    }

    pub fn status(mut self, status: AuditStatus) -> Self {
        self.status = status;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Writes inside the caller's transaction so the event and the change it
/// describes commit together or not at all.
pub async fn record<'c, E: Executor<'c, Database = Any>>(
    exec: E,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, resource_type, resource_id, \
         tenant_id, status, client_ip, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(now_millis())
    .bind(&actor.label)
    .bind(entry.action)
    .bind(entry.resource_type)
    .bind(entry.resource_id)
    .bind(entry.tenant_id)
    .bind(entry.status.as_str())
    .bind(actor.client_ip.as_deref())
    .bind(entry.details.to_string())
    .execute(exec)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct AuditRow {
    id: String,
    at: i64,
    actor: String,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    tenant_id: Option<String>,
    status: String,
    client_ip: Option<String>,
    details: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        AuditEvent {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            tenant_id: r.tenant_id,
            status: AuditStatus::parse(&r.status).unwrap_or(AuditStatus::Failure),
            client_ip: r.client_ip,
            details: r.details,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant_id: Option<String>,
    pub action: Option<String>,
}

/// Newest first. Tenant users see only their own tenant's events.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    filter: Filter,
    page: PageRequest,
) -> Result<Page<AuditEvent>> {
    let tenant = match actor.scope() {
        Some(own) => {
            actor.require(own, crate::domain::role::Access::Manage)?;
            Some(own.to_string())
        }
        None => filter.tenant_id.filter(|t| !t.is_empty()),
    };
    let action = filter.action.filter(|a| !a.is_empty());
    let cond = "($1 IS NULL OR tenant_id = $1) AND ($2 IS NULL OR action = $2)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM audit_events WHERE {cond}"))
        .bind(tenant.as_deref())
        .bind(action.as_deref())
        .fetch_one(&svc.db.pool)
        .await?;
    let rows: Vec<AuditRow> = sqlx::query_as(&format!(
        "SELECT id, at, actor, action, resource_type, resource_id, tenant_id, status, \
         client_ip, details FROM audit_events WHERE {cond} ORDER BY seq DESC LIMIT $3 OFFSET $4"
    ))
    .bind(tenant.as_deref())
    .bind(action.as_deref())
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(Page::new(
        rows.into_iter().map(AuditEvent::from).collect(),
        total,
        page,
    ))
}

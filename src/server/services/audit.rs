//! The audit trail: every mutation and every sign-in leaves an `audit_event`.

use crate::domain::tenant::TenantId;

use serde_json::Value;
use sqlx::AnyConnection;

use crate::domain::audit::{AuditAction, AuditEvent, AuditQuery, AuditStatus};
use crate::domain::page::{Page, PageRequest};
use crate::domain::role::Access;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;

use super::audit_append;
use super::audit_chain::{self, Link, LINK_COLUMNS};
use super::audit_query::{conditions, shown};
use super::audit_reader::{Bound, SearchReader};
use super::{new_id, Actor, Result, ServiceError, Services};

/// What happened, before it is stamped with an id and a time.
pub struct Entry<'a> {
    pub action: AuditAction,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub tenant_id: Option<&'a TenantId>,
    pub status: AuditStatus,
    pub details: Value,
    /// The event's id when the caller fixed it in advance (a decision
    /// spooled before it is stored, so a replay can tell it was); a fresh
    /// one otherwise.
    pub id: Option<&'a str>,
}

impl<'a> Entry<'a> {
    pub fn success(action: AuditAction, resource_type: &'a str, resource_id: &'a str) -> Self {
        Self {
            action,
            resource_type,
            resource_id: Some(resource_id),
            tenant_id: None,
            status: AuditStatus::Success,
            details: Value::Object(Default::default()),
            id: None,
        }
    }

    pub fn with_id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    pub fn tenant(self, tenant_id: &'a TenantId) -> Self {
        self.tenant_opt(Some(tenant_id))
    }

    pub fn tenant_opt(mut self, tenant_id: Option<&'a TenantId>) -> Self {
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

/// Appends to the event's chain inside the caller's transaction, so the
/// event and the change it describes commit together or not at all.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record(
    svc: &Services,
    conn: &mut AnyConnection,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<()> {
    audit_append::append(conn, svc.secrets.audit(), link(actor, entry)).await
}

/// Records several events, by one actor, in the caller's transaction: one
/// append per chain (the gateway's batched decisions).
pub async fn record_all(
    svc: &Services,
    conn: &mut AnyConnection,
    actor: &Actor,
    entries: Vec<Entry<'_>>,
) -> Result<()> {
    let links = entries.into_iter().map(|e| link(actor, e)).collect();
    audit_append::append_all(conn, svc.secrets.audit(), links).await
}

/// The link an entry becomes; its place in the chain is set on append.
fn link(actor: &Actor, entry: Entry<'_>) -> Link {
    Link {
        id: entry.id.map_or_else(new_id, str::to_string),
        at: now_millis(),
        actor: actor.audit_name(),
        action: entry.action.as_str().to_string(),
        resource_type: entry.resource_type.to_string(),
        resource_id: entry.resource_id.map(str::to_string),
        tenant_id: entry.tenant_id.cloned(),
        status: entry.status.as_str().to_string(),
        client_ip: actor.client_ip.clone(),
        details: entry.details.to_string(),
        chain: audit_chain::chain_of(entry.tenant_id.map(|t| t.as_str())).to_string(),
        chain_seq: 0,
        prev_hash: String::new(),
        hash: String::new(),
        key_id: None,
    }
}

/// Records an event in a transaction of its own.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn append(svc: &Services, actor: &Actor, entry: Entry<'_>) -> Result<()> {
    let mut tx = svc.db.pool.begin().await?;
    record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// A stored status this version cannot read is an error, not a guess.
impl TryFrom<Link> for AuditEvent {
    type Error = ServiceError;
    fn try_from(r: Link) -> Result<Self> {
        let status = AuditStatus::parse(&r.status).ok_or_else(|| {
            ServiceError::Internal(format!("audit event {} has status {:?}", r.id, r.status))
        })?;
        Ok(AuditEvent {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            tenant_id: r.tenant_id,
            status,
            client_ip: r.client_ip,
            details: r.details,
            chain: r.chain,
            chain_seq: r.chain_seq,
            hash: r.hash,
        })
    }
}

/// Counting stops here: a page only needs to know that there is more, and
/// pages end here too.
const COUNT_CAP: i64 = 10_000;
/// A page that starts this deep and is stopped at the timeout is told to
/// narrow the search: what it skips is what took the time.
const DEEP_OFFSET: i64 = 1_000;

/// Newest first, filtered; tenant users see only their own tenant's events.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn search(
    svc: &Services,
    actor: &Actor,
    q: &AuditQuery,
    page: PageRequest,
) -> Result<Page<AuditEvent>> {
    let mut search = q.parse()?;
    search.actor = match search.actor.take() {
        Some(a) => Some(super::audit_names::actor_alias(svc, a).await?),
        None => None,
    };
    let c = conditions(actor, &search, svc.db.backend)?;
    let wh = c.where_clause();
    let count_sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM audit_events {wh} LIMIT {COUNT_CAP}) AS capped"
    );
    if page.offset() >= COUNT_CAP {
        return Err(Invalid::new(
            "page",
            format!("only the newest {COUNT_CAP} matching events are paged: narrow the search with dates"),
        )
        .into());
    }
    // A page past the first few reads the rows it skips.
    let deep = (page.offset() >= DEEP_OFFSET).then_some("page");
    let mut reader = SearchReader::open(svc, actor, search.broad().or(deep)).await?;
    let counted: Vec<(i64,)> = reader.rows(&count_sql, &c.values).await?;
    let (total,) = counted
        .first()
        .copied()
        .ok_or_else(|| ServiceError::Internal("a count that gave no row".into()))?;
    let n = c.values.len();
    let rows_sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events {wh} ORDER BY at DESC, seq DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut values = c.values.clone();
    values.extend([Bound::Int(page.limit()), Bound::Int(page.offset())]);
    let rows: Vec<Link> = reader.rows(&rows_sql, &values).await?;
    reader.commit().await?;
    let events = shown(actor, rows)?;
    Ok(Page::new(events, total, page))
}

/// One event, for the detail view.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<AuditEvent> {
    let row: Option<Link> = sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM audit_events WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&svc.db.pool)
    .await?;
    let row = row.ok_or(ServiceError::NotFound("audit event"))?;
    let event = shown(actor, vec![row])?
        .pop()
        .ok_or(ServiceError::NotFound("audit event"))?;
    match (&event.tenant_id, actor.scope()?) {
        (_, None) => Ok(event),
        (Some(t), Some(own)) if t == own => {
            actor.require(own, Access::Manage)?;
            Ok(event)
        }
        _ => Err(ServiceError::NotFound("audit event")),
    }
}

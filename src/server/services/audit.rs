//! The audit trail: every mutation and every sign-in leaves an `audit_event`.

use crate::domain::tenant::TenantId;
use serde_json::Value;
use sqlx::AnyConnection;

use futures::stream::BoxStream;
use futures::StreamExt;

use crate::domain::audit::{
    csv_line, AuditAction, AuditEvent, AuditQuery, AuditStatus, ExportFormat, CSV_HEADER,
};
use crate::domain::page::{Page, PageRequest};
use crate::domain::role::Access;
use crate::domain::time::now_millis;

use super::audit_append;
use super::audit_chain::{self, Link, LINK_COLUMNS};
use super::audit_query::{conditions, shown, too_long, Bound, SearchReader};
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

/// Counting stops here: a page only needs to know that there is more.
const COUNT_CAP: i64 = 10_000;

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
    let mut reader = SearchReader::open(svc, &search).await?;
    let (total,): (i64,) = c
        .bind(sqlx::query_as(&count_sql))
        .fetch_one(&mut *reader.tx)
        .await
        .map_err(too_long)?;
    let n = c.values.len();
    let rows_sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events {wh} ORDER BY at DESC, seq DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows: Vec<Link> = c
        .bind(sqlx::query_as(&rows_sql))
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *reader.tx)
        .await
        .map_err(too_long)?;
    reader.tx.commit().await?;
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

/// Streams a tenant's events (or, with `None`, the platform chain's) over
/// `[from, to]` (dates) as CSV or JSON, oldest first; the export is itself
/// audited before the first byte goes out.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn export(
    svc: &Services,
    actor: &Actor,
    tenant_id: Option<&TenantId>,
    from: &str,
    to: &str,
    format: ExportFormat,
) -> Result<BoxStream<'static, Result<String>>> {
    match tenant_id {
        Some(t) => actor.require(t, Access::Manage)?,
        None => actor.require_platform_admin()?,
    }
    let q = AuditQuery {
        tenant_id: tenant_id.map(ToString::to_string).unwrap_or_default(),
        from: from.to_string(),
        to: to.to_string(),
        ..Default::default()
    };
    let mut c = conditions(actor, &q.parse()?, svc.db.backend)?;
    let platform = audit_chain::PLATFORM;
    if tenant_id.is_none() {
        c.push("chain = ?", vec![Bound::Text(platform.into())]);
    }
    let (kind, id) = tenant_id.map_or(("platform", platform), |t| ("tenant", t.as_str()));
    let entry = Entry::success(AuditAction::AuditExport, kind, id)
        .tenant_opt(tenant_id)
        .details(serde_json::json!({ "from": from, "to": to, "format": format }));
    append(svc, actor, entry).await?;
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events {} ORDER BY at, seq",
        c.where_clause()
    );
    let pool = svc.db.pool.clone();
    let operator = actor.is_platform_admin();
    Ok(Box::pin(async_stream::try_stream! {
        let mut rows = c.bind(sqlx::query_as::<_, Link>(&sql)).fetch(&pool);
        // The deployment's internals (stores, raw errors) are the operator's.
        let mut first = true;
        if format == ExportFormat::Csv {
            yield CSV_HEADER.to_string();
        } else {
            yield "[".to_string();
        }
        while let Some(row) = rows.next().await {
            let event = AuditEvent::try_from(row?)?;
            let event = if operator { event } else { event.for_tenant_user() };
            match format {
                ExportFormat::Csv => yield csv_line(&event),
                ExportFormat::Json => {
                    let sep = if first { "\n" } else { ",\n" };
                    first = false;
                    let line = serde_json::to_string(&event)
                        .map_err(|e| ServiceError::Internal(format!("encoding an audit event: {e}")))?;
                    yield format!("{sep}{line}");
                }
            }
        }
        if format == ExportFormat::Json {
            yield "\n]\n".to_string();
        }
    }))
}

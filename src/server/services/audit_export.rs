//! A tenant's or the platform's audit trail over a date range, as CSV or
//! JSON, read in pages so a download at the client's pace holds no
//! database connection between them. Each page takes a turn in the
//! caller's lane (`audit_turns`), so parallel exports queue instead of
//! holding the pool; and the export ends at the newest event stored when it
//! began, so its chain is a prefix without gaps however long it takes.

use futures::stream::BoxStream;
use sqlx::FromRow;

use crate::domain::audit::{
    csv_line, AuditAction, AuditEvent, AuditQuery, ExportFormat, CSV_HEADER,
};
use crate::domain::role::Access;
use crate::domain::tenant::TenantId;

use super::audit::{append, Entry};
use super::audit_chain::{self, Link, LINK_COLUMNS};
use super::audit_query::{conditions, Conditions};
use super::audit_reader::Bound;
use super::audit_turns::{self, Lane};
use super::{Actor, Result, ServiceError, Services};

/// Events read per page: one short statement each.
const PAGE: i64 = 500;
/// The least a page waits for its turn.
const PAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A link with its place in insertion order, the page key beside `at`.
#[derive(FromRow)]
struct Numbered {
    seq: i64,
    #[sqlx(flatten)]
    link: Link,
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
    // Within a chain `seq` grows with `chain_seq` (both are taken under the
    // chain's lock), so this cut leaves no chain with a gap.
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_events")
        .fetch_one(&svc.db.pool)
        .await?;
    c.push("seq <= ?", vec![Bound::Int(newest.unwrap_or(0))]);
    let pages = Pages {
        svc: svc.clone(),
        lane: Lane::of(actor)?,
        c,
        after: None,
    };
    Ok(Box::pin(lines(pages, actor.is_platform_admin(), format)))
}

/// The export's rows, a page at a time, resumed after the last `(at, seq)`.
struct Pages {
    svc: Services,
    lane: Lane,
    c: Conditions,
    after: Option<(i64, i64)>,
}

impl Pages {
    /// The next page, empty at the end.
    async fn next(&mut self) -> Result<Vec<Link>> {
        let mut c = self.c.clone();
        if let Some((at, seq)) = self.after {
            // `at >= ?` alone is what an index on `(tenant_id, at)` seeks to.
            c.push(
                "at >= ? AND (at > ? OR seq > ?)",
                vec![Bound::Int(at), Bound::Int(at), Bound::Int(seq)],
            );
        }
        let sql = format!(
            "SELECT seq, {LINK_COLUMNS} FROM audit_events {} ORDER BY at, seq LIMIT ${}",
            c.where_clause(),
            c.values.len() + 1
        );
        // Nobody watches a download's pages come: they wait longer than a
        // search for a turn, so a busy minute does not cut a file short.
        let wait = audit_turns::wait_for(self.svc.config.audit_search_timeout_ms).max(PAGE_WAIT);
        let _turn = self.svc.audit_turns.take(self.lane.clone(), wait).await?;
        let rows: Vec<Numbered> = c
            .bind(sqlx::query_as(&sql))
            .bind(PAGE)
            .fetch_all(&self.svc.db.pool)
            .await?;
        self.after = rows.last().map(|r| (r.link.at, r.seq)).or(self.after);
        Ok(rows.into_iter().map(|r| r.link).collect())
    }
}

fn lines(
    mut pages: Pages,
    operator: bool,
    format: ExportFormat,
) -> impl futures::Stream<Item = Result<String>> {
    async_stream::try_stream! {
        // The deployment's internals (stores, raw errors) are the operator's.
        let mut first = true;
        yield match format {
            ExportFormat::Csv => CSV_HEADER.to_string(),
            ExportFormat::Json => "[".to_string(),
        };
        loop {
            let rows = pages.next().await?;
            let last = (rows.len() as i64) < PAGE;
            for row in rows {
                let event = AuditEvent::try_from(row)?;
                let event = if operator { event } else { event.for_tenant_user() };
                yield match format {
                    ExportFormat::Csv => csv_line(&event),
                    ExportFormat::Json => {
                        let sep = if first { "\n" } else { ",\n" };
                        first = false;
                        let line = serde_json::to_string(&event).map_err(|e| {
                            ServiceError::Internal(format!("encoding an audit event: {e}"))
                        })?;
                        format!("{sep}{line}")
                    }
                };
            }
            if last {
                break;
            }
        }
        if format == ExportFormat::Json {
            yield "\n]\n".to_string();
        }
    }
}

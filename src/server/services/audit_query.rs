//! Audit search's SQL: filters become numbered conditions, tenant users
//! are held to their own tenant, and the admin API's cursor list pages
//! newest first by `(at, id)` so it stays put while events arrive.

use crate::domain::audit::{AuditEvent, AuditQuery};
use crate::domain::audit_search::AuditSearch;
use crate::domain::cursor::{CursorPage, CursorRequest};
use std::time::Duration;

use crate::domain::role::Access;
use crate::domain::validation::Invalid;
use crate::server::db::Backend;

use super::actor::GATEWAY;
use super::audit_chain::{Link, LINK_COLUMNS};
use super::{Actor, Result, ServiceError, Services};

/// Searches by text running at once in this process. Each may read rows
/// no index narrows (the gateway's decisions, a rare word over years of a
/// tenant's trail); together they must leave the pool's connections (8 on
/// SQLite) to the gateway's writers and the portal.
static TEXT_SEARCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// How long a search by text waits for its turn.
const TURN_WAIT: Duration = Duration::from_secs(10);

/// Where a search's statements run: one transaction, and for a search by
/// text, one of the process's turns and (on PostgreSQL) a statement
/// timeout, so one caller's broad search cannot hold what others need.
pub(super) struct SearchReader {
    pub(super) tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::SemaphorePermit<'static>>,
}

impl SearchReader {
    pub(super) async fn open(svc: &Services, search: &AuditSearch) -> Result<Self> {
        let text = search.text.is_some();
        let turn = match text {
            true => Some(turn().await?),
            false => None,
        };
        let mut tx = svc.db.pool.begin().await?;
        if text && svc.db.backend == Backend::Postgres {
            // SET takes no bound parameter; the value is the config's number.
            let ms = svc.config.audit_search_timeout_ms.max(1);
            sqlx::query(&format!("SET LOCAL statement_timeout = {ms}"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(Self { tx, _turn: turn })
    }
}

async fn turn() -> Result<tokio::sync::SemaphorePermit<'static>> {
    match tokio::time::timeout(TURN_WAIT, TEXT_SEARCHES.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(closed)) => Err(ServiceError::Internal(closed.to_string())),
        Err(_) => Err(ServiceError::Unavailable(
            "too many searches by text are running: try again shortly".into(),
        )),
    }
}

/// A statement PostgreSQL stopped at the search's timeout (SQLSTATE
/// 57014): the search was too broad to finish, which the caller can fix.
pub(super) fn too_long(e: sqlx::Error) -> ServiceError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("57014") => Invalid::new(
            "text",
            "the search by text took too long: narrow it with dates, an action, an actor \
             or a longer text",
        )
        .into(),
        _ => e.into(),
    }
}

/// SQL conditions and their values, numbered as they are added.
#[derive(Default)]
pub(super) struct Conditions {
    pub(super) sql: Vec<String>,
    pub(super) values: Vec<Bound>,
}

#[derive(Clone)]
pub(super) enum Bound {
    Text(String),
    Int(i64),
}

impl Conditions {
    pub(super) fn push(&mut self, template: &str, values: Vec<Bound>) {
        let mut sql = template.to_string();
        for v in values {
            self.values.push(v);
            sql = sql.replacen('?', &format!("${}", self.values.len()), 1);
        }
        self.sql.push(sql);
    }

    pub(super) fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }

    pub(super) fn bind<'q, O>(
        &'q self,
        mut q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        for v in &self.values {
            q = match v {
                Bound::Text(s) => q.bind(s.as_str()),
                Bound::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// Turns filters into conditions. Tenant users are held to their tenant
/// whatever the filter says.
/// What free-text search looks in (the trigram index covers exactly this).
const SEARCH_TEXT: &str =
    "LOWER(action || ' ' || actor || ' ' || COALESCE(resource_id, '') || ' ' || details)";

pub(super) fn conditions(actor: &Actor, q: &AuditSearch, backend: Backend) -> Result<Conditions> {
    let mut c = Conditions::default();
    let tenant = match actor.scope()? {
        Some(own) => {
            actor.require(own, Access::Manage)?;
            Some(own.clone())
        }
        None => q.tenant_id.clone(),
    };
    if let Some(t) = tenant {
        c.push("tenant_id = ?", vec![Bound::Text(t.into())]);
    }
    if let Some(a) = &q.actor {
        // An e-mail also finds the user's events named `user:<id>`.
        let (first, second) = a.split_once('\n').unwrap_or((a, a));
        c.push(
            "(actor = ? OR actor = ?)",
            vec![Bound::Text(first.into()), Bound::Text(second.into())],
        );
    }
    if let Some(a) = &q.action {
        c.push("action = ?", vec![Bound::Text(a.clone())]);
    }
    if let Some(r) = &q.resource {
        c.push(
            "(resource_type = ? OR resource_id = ?)",
            vec![Bound::Text(r.clone()), Bound::Text(r.clone())],
        );
    }
    if let Some(st) = q.status {
        c.push("status = ?", vec![Bound::Text(st.as_str().into())]);
    }
    if let Some(at) = q.from {
        c.push("at >= ?", vec![Bound::Int(at)]);
    }
    if let Some(at) = q.to {
        c.push("at < ?", vec![Bound::Int(at)]);
    }
    if let Some(text) = &q.text {
        let like = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        match backend {
            // SQLite needs LIKE's escape named.
            Backend::Sqlite => c.push(
                &format!("{SEARCH_TEXT} LIKE ? ESCAPE '\\'"),
                vec![Bound::Text(like)],
            ),
            Backend::Postgres => c.push(&pg_text_condition(), vec![Bound::Text(like); 2]),
        }
    }
    Ok(c)
}

/// On PostgreSQL the trigram index covers every event but the gateway's
/// (migration 34); asked in two halves, the planner can use it for the one
/// and the gateway's other filters for the other. The second half spells
/// the text with the gateway's name in place of `actor` (the same text on
/// its rows): written alike, the planner folds the halves back into one
/// condition that no index serves. Backslash is already LIKE's escape there.
fn pg_text_condition() -> String {
    let gateway_text =
        format!("LOWER(action || ' {GATEWAY} ' || COALESCE(resource_id, '') || ' ' || details)");
    format!(
        "((actor <> '{GATEWAY}' AND {SEARCH_TEXT} LIKE ?) \
         OR (actor = '{GATEWAY}' AND {gateway_text} LIKE ?))"
    )
}

/// Newest first, filtered, resumed before the cursor's `(at, id)`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn search_cursor(
    svc: &Services,
    actor: &Actor,
    q: &AuditQuery,
    page: &CursorRequest,
) -> Result<CursorPage<AuditEvent>> {
    let mut search = q.parse()?;
    search.actor = match search.actor.take() {
        Some(a) => Some(super::audit_names::actor_alias(svc, a).await?),
        None => None,
    };
    let mut c = conditions(actor, &search, svc.db.backend)?;
    if let Some((at, id)) = &page.after {
        c.push(
            "(at < ? OR (at = ? AND id < ?))",
            vec![Bound::Int(*at), Bound::Int(*at), Bound::Text(id.clone())],
        );
    }
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events {} ORDER BY at DESC, id DESC LIMIT ${}",
        c.where_clause(),
        c.values.len() + 1
    );
    let mut reader = SearchReader::open(svc, &search).await?;
    let rows: Vec<Link> = c
        .bind(sqlx::query_as(&sql))
        .bind(page.fetch())
        .fetch_all(&mut *reader.tx)
        .await
        .map_err(too_long)?;
    reader.tx.commit().await?;
    let events = shown(actor, rows)?;
    Ok(page.page(events, |e| (e.at, e.id.clone())))
}

/// Rows as the reader may see them: platform admins whole, everyone else
/// without the deployment's internals.
pub(super) fn shown(actor: &Actor, rows: Vec<Link>) -> Result<Vec<AuditEvent>> {
    let operator = actor.is_platform_admin();
    rows.into_iter()
        .map(|row| {
            AuditEvent::try_from(row).map(|e| if operator { e } else { e.for_tenant_user() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index leaves out what the query's second half reads: both name
    /// the gateway the same way.
    #[test]
    fn the_trigram_index_and_the_search_agree_on_the_gateway() {
        let migration =
            include_str!("../../../migrations/postgres/0034_audit_text_index_without_gateway.sql");
        assert!(migration.contains(&format!("WHERE actor <> '{GATEWAY}'")));
        assert!(migration.contains(SEARCH_TEXT));
        assert!(pg_text_condition().contains(&format!("actor = '{GATEWAY}'")));
    }
}

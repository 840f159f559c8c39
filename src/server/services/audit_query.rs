//! Audit search's SQL: filters become numbered conditions, tenant users
//! are held to their own tenant, and the admin API's cursor list pages
//! newest first by `(at, id)` so it stays put while events arrive.

use crate::domain::audit::{AuditEvent, AuditQuery};
use crate::domain::audit_search::AuditSearch;
use crate::domain::cursor::{CursorPage, CursorRequest};
use crate::domain::role::Access;
use crate::domain::validation::Invalid;
use crate::server::db::Backend;

use super::actor::GATEWAY;
use super::audit_chain::{Link, LINK_COLUMNS};
use super::audit_turns::{self, Lane, Turn};
use super::{Actor, Result, ServiceError, Services};
use std::time::Duration;

/// Where a search's statements run: one transaction, on PostgreSQL with a
/// statement timeout; and for a broad search (`AuditSearch::broad`, or a
/// page deep in the results) one of the process's turns, so one caller's
/// broad searches cannot hold what others need.
pub(super) struct SearchReader {
    tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
    turn: Option<Turn>,
    /// The field that made the search broad, named when it is stopped.
    broad: Option<&'static str>,
}

/// How long an abandoned search's rollback may take before its connection
/// is dropped instead (and its turn given back with it).
const ROLLBACK_WAIT: Duration = Duration::from_secs(30);

impl SearchReader {
    pub(super) async fn open(
        svc: &Services,
        actor: &Actor,
        broad: Option<&'static str>,
    ) -> Result<Self> {
        let turn = match broad {
            Some(_) => Some(take_turn(svc, actor).await?),
            None => None,
        };
        let mut tx = svc.db.pool.begin().await?;
        if svc.db.backend == Backend::Postgres {
            // SET takes no bound parameter; the value is the config's number,
            // in the range PostgreSQL accepts (checked when it is read).
            let ms = svc.config.audit_search_timeout_ms.clamp(1, i32::MAX as u64);
            sqlx::query(&format!("SET LOCAL statement_timeout = {ms}"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(Self {
            tx: Some(tx),
            turn,
            broad,
        })
    }

    pub(super) fn conn(&mut self) -> Result<&mut sqlx::AnyConnection> {
        self.tx
            .as_deref_mut()
            .ok_or_else(|| ServiceError::Internal("an audit search read after its end".into()))
    }

    pub(super) async fn commit(mut self) -> Result<()> {
        match self.tx.take() {
            Some(tx) => Ok(tx.commit().await?),
            None => Ok(()),
        }
    }

    /// A statement's error as the caller sees it: a search stopped at its
    /// timeout is the caller's to narrow.
    pub(super) fn failed(&self, e: sqlx::Error) -> ServiceError {
        too_long(self.broad.unwrap_or("from"), e)
    }
}

/// A turn in the caller's lane, waited for as long as one search can hold it.
async fn take_turn(svc: &Services, actor: &Actor) -> Result<Turn> {
    let wait = audit_turns::wait_for(svc.config.audit_search_timeout_ms);
    svc.audit_turns.take(Lane::of(actor)?, wait).await
}

/// A search dropped mid-statement (its caller left) gives its turn back
/// only once the connection has rolled back, which waits for the running
/// statement: the next broad search cannot start beside it.
impl Drop for SearchReader {
    fn drop(&mut self) {
        let (Some(tx), turn) = (self.tx.take(), self.turn.take()) else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                match tokio::time::timeout(ROLLBACK_WAIT, tx.rollback()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "rolling back an abandoned audit search")
                    }
                    Err(_) => tracing::warn!("an abandoned audit search did not roll back in time"),
                }
                drop(turn);
            });
        }
    }
}

/// A statement PostgreSQL stopped at the search's timeout (SQLSTATE
/// 57014): the search was too broad to finish, which the caller can fix.
fn too_long(field: &'static str, e: sqlx::Error) -> ServiceError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("57014") => {
            let why = match field {
                "text" => {
                    "the search by text took too long: narrow it with dates, an action, \
                           an actor or a longer text"
                }
                "page" => {
                    "this page took too long to reach: narrow the search with dates, an \
                           action or an actor"
                }
                "resource" => {
                    "the search by resource took too long: narrow it with dates, an \
                               action or an actor"
                }
                _ => "the search took too long: narrow it with dates, an action or an actor",
            };
            Invalid::new(field, why).into()
        }
        _ => e.into(),
    }
}

/// SQL conditions and their values, numbered as they are added.
#[derive(Default, Clone)]
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
        // `at <= ?` alone is what an index on `at` seeks to.
        c.push(
            "at <= ? AND (at < ? OR id < ?)",
            vec![Bound::Int(*at), Bound::Int(*at), Bound::Text(id.clone())],
        );
    }
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events {} ORDER BY at DESC, id DESC LIMIT ${}",
        c.where_clause(),
        c.values.len() + 1
    );
    let mut reader = SearchReader::open(svc, actor, search.broad()).await?;
    let rows = c
        .bind(sqlx::query_as::<_, Link>(&sql))
        .bind(page.fetch())
        .fetch_all(reader.conn()?)
        .await;
    let rows = rows.map_err(|e| reader.failed(e))?;
    reader.commit().await?;
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

//! Audit search's SQL: filters become numbered conditions, tenant users
//! are held to their own tenant, and the admin API's cursor list pages
//! newest first by `(at, id)` so it stays put while events arrive.

use crate::domain::audit::{AuditEvent, AuditQuery};
use crate::domain::audit_search::AuditSearch;
use crate::domain::cursor::{CursorPage, CursorRequest};
use crate::domain::role::Access;
use crate::server::db::Backend;

use super::actor::GATEWAY;
use super::audit_chain::{Link, LINK_COLUMNS};
use super::audit_reader::{Bound, SearchReader};
use super::{Actor, Result, Services};

/// SQL conditions and their values, numbered as they are added.
#[derive(Default, Clone)]
pub(super) struct Conditions {
    pub(super) sql: Vec<String>,
    pub(super) values: Vec<Bound>,
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
        q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        Bound::bind_all(q, &self.values)
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
    c.values.push(Bound::Int(page.fetch()));
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM audit_events {} ORDER BY at DESC, id DESC LIMIT ${}",
        c.where_clause(),
        c.values.len()
    );
    let mut reader = SearchReader::open(svc, actor, search.broad()).await?;
    let rows: Vec<Link> = reader.rows(&sql, &c.values).await?;
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

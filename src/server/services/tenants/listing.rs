//! Reading tenants in bulk: the portal's searchable pages, the admin
//! API's cursor pages, and the pickers' id and name pairs.

use crate::domain::cursor::{CursorPage, CursorRequest};
use crate::domain::page::{Page, PageRequest, SortDir};
use crate::domain::tenant::{name_key, Tenant, TenantId, TenantSort};

use super::{TenantRow, COLUMNS};
use crate::server::services::{paged, Actor, Result, Services};

/// Search by name; platform admins only, as it crosses tenants.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    svc: &Services,
    actor: &Actor,
    search: &str,
    (sort, dir): (TenantSort, SortDir),
    page: PageRequest,
) -> Result<Page<Tenant>> {
    actor.require_platform_read()?;
    let pattern = format!("%{}%", escape_like(&name_key(search)));
    let cond = "name_key LIKE $1 ESCAPE '\\'";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tenants WHERE {cond}"))
        .bind(&pattern)
        .fetch_one(&svc.db.pool)
        .await?;
    let column = match sort {
        TenantSort::Name => "name_key",
        TenantSort::Created => "created_at",
    };
    let order = match dir {
        SortDir::Asc => "ASC",
        SortDir::Desc => "DESC",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM tenants WHERE {cond} ORDER BY {column} {order}, id \
         LIMIT $2 OFFSET $3"
    );
    let rows: Vec<TenantRow> = paged::on_page(svc, &sql, &[Some(pattern.as_str())], &page).await?;
    let items = rows
        .into_iter()
        .map(TenantRow::into_tenant)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::new(items, total, page))
}

/// The few tenants a picker needs: id and name, for admins.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn names(svc: &Services, actor: &Actor) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = match actor.scope()? {
        None => {
            sqlx::query_as("SELECT id, name FROM tenants ORDER BY name_key LIMIT 1000")
                .fetch_all(&svc.db.pool)
                .await?
        }
        Some(own) => {
            sqlx::query_as("SELECT id, name FROM tenants WHERE id = $1")
                .bind(own)
                .fetch_all(&svc.db.pool)
                .await?
        }
    };
    Ok(rows)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Tenants oldest first, after a cursor: every tenant for platform
/// readers, a tenant-bound caller's own tenant only.
pub async fn list_cursor(
    svc: &Services,
    actor: &Actor,
    search: &str,
    page: &CursorRequest,
) -> Result<CursorPage<Tenant>> {
    let own = actor.scope()?;
    let pattern = format!("%{}%", escape_like(&name_key(search)));
    let sql = format!(
        "SELECT {COLUMNS} FROM tenants WHERE name_key LIKE $1 ESCAPE '\\' \
         AND ($2 IS NULL OR id = $2) AND (created_at > $3 OR (created_at = $3 AND id > $4)) \
         ORDER BY created_at, id LIMIT $5"
    );
    let lead = [Some(pattern.as_str()), own.map(TenantId::as_str)];
    let rows: Vec<TenantRow> = paged::after_cursor(svc, &sql, &lead, page).await?;
    let tenants = rows
        .into_iter()
        .map(TenantRow::into_tenant)
        .collect::<Result<Vec<_>>>()?;
    Ok(page.page(tenants, |t| (t.created_at, t.id.to_string())))
}

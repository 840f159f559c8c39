//! Pages read from the control-plane database: cursor pages (the admin
//! API's lists, oldest first on `(created_at, id)`) and numbered pages (the
//! portal's tables). The reading is here once; each list names its query.

use super::{Result, Services};
use crate::domain::cursor::CursorRequest;
use crate::domain::page::PageRequest;

/// Rows after the page's cursor. `sql` binds `lead` first (text, NULL for
/// `None`), then the cursor's key and id, then how many rows to fetch.
pub async fn after_cursor<R>(
    svc: &Services,
    sql: &str,
    lead: &[Option<&str>],
    page: &CursorRequest,
) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let (key, id) = page.bounds();
    let mut query = sqlx::query_as::<_, R>(sql);
    for value in lead {
        query = query.bind(*value);
    }
    let rows = query
        .bind(key)
        .bind(id)
        .bind(page.fetch())
        .fetch_all(&svc.db.pool)
        .await?;
    Ok(rows)
}

/// Rows of a numbered page. `sql` binds `lead` first (text, NULL for
/// `None`), then the page's limit and offset.
pub async fn on_page<R>(
    svc: &Services,
    sql: &str,
    lead: &[Option<&str>],
    page: &PageRequest,
) -> Result<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut query = sqlx::query_as::<_, R>(sql);
    for value in lead {
        query = query.bind(*value);
    }
    let rows = query
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&svc.db.pool)
        .await?;
    Ok(rows)
}

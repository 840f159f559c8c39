//! One tenant's store: the only way code above `db/` reaches tenant data.
//! Every statement binds the store's own tenant id, so a query for another
//! tenant, or for none, cannot be written through it.

use sqlx::{Any, AnyPool, Executor, Transaction};

use super::location::Location;
use crate::server::db::{Backend, DbError};

/// The role tenant transactions run as on PostgreSQL (see migration 0003).
const TENANT_ROLE: &str = "atrium_tenant";

pub struct TenantStore {
    pub(super) tenant_id: String,
    pub(super) location: Location,
    pub(super) backend: Backend,
    pub(super) pool: AnyPool,
}

pub(super) type Tx = Transaction<'static, Any>;

impl TenantStore {
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A table's name in this store.
    pub(super) fn table(&self, name: &str) -> String {
        match (&self.location, self.backend) {
            (Location::Namespace(prefix), Backend::Sqlite) => format!("{prefix}_{name}"),
            _ => name.to_string(),
        }
    }

    /// Rows of a read whose binds are this tenant ($1) and a period
    /// `[from, to)` ($2, $3), run in a transaction fenced to the tenant.
    pub(super) async fn rows_in_period<R>(
        &self,
        sql: &str,
        (from, to): (i64, i64),
    ) -> Result<Vec<R>, DbError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut tx = self.begin().await?;
        let rows = sqlx::query_as::<_, R>(sql)
            .bind(&self.tenant_id)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// A transaction fenced to this tenant.
    pub(super) async fn begin(&self) -> Result<Tx, DbError> {
        let mut tx = self.pool.begin().await?;
        self.enter(&mut tx).await?;
        Ok(tx)
    }

    /// On PostgreSQL row level, drops to a role that RLS applies to and names
    /// the tenant; in a schema, points unqualified names at it. Both are
    /// LOCAL: they end with the transaction, so pooled connections come back clean.
    pub(super) async fn enter(&self, tx: &mut Tx) -> Result<(), DbError> {
        match (self.backend, &self.location) {
            (Backend::Postgres, Location::Shared) => {
                tx.execute(format!("SET LOCAL ROLE {TENANT_ROLE}").as_str())
                    .await?;
                sqlx::query("SELECT set_config('atrium.tenant_id', $1, true)")
                    .bind(&self.tenant_id)
                    .execute(&mut **tx)
                    .await?;
            }
            (Backend::Postgres, Location::Namespace(schema)) => {
                sqlx::query("SELECT set_config('search_path', $1, true)")
                    .bind(schema.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Fails with `Moved` unless the tenant's placement is still at `epoch`.
    /// On PostgreSQL the row is share-locked until commit, so a move or an
    /// erase waits for this write; on SQLite the caller holds the write lock.
    pub(super) async fn fence(&self, tx: &mut Tx, epoch: i64) -> Result<(), DbError> {
        let sql = match self.backend {
            Backend::Postgres => "SELECT epoch FROM tenant_stores WHERE tenant_id = $1 FOR SHARE",
            Backend::Sqlite => "SELECT epoch FROM tenant_stores WHERE tenant_id = $1",
        };
        let now: Option<i64> = sqlx::query_scalar(sql)
            .bind(&self.tenant_id)
            .fetch_optional(&mut **tx)
            .await?;
        if now == Some(epoch) {
            Ok(())
        } else {
            Err(DbError::Moved)
        }
    }

    /// Rows per table, for the portal and for verifying a move.
    pub async fn row_counts(&self) -> Result<Vec<(String, i64)>, DbError> {
        let mut tx = self.begin().await?;
        let mut counts = Vec::new();
        for table in super::schema::TABLES {
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE tenant_id = $1",
                self.table(table)
            );
            let n: i64 = sqlx::query_scalar(&sql)
                .bind(&self.tenant_id)
                .fetch_one(&mut *tx)
                .await?;
            counts.push((table.to_string(), n));
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Bytes this tenant's data takes, where the backend can tell.
    pub async fn size_bytes(&self, data_dir: Option<&std::path::Path>) -> Option<i64> {
        let size = match (&self.location, self.backend) {
            (Location::Database(file), Backend::Sqlite) => {
                let path = data_dir?.join(file.as_str());
                let len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                let wal = path.with_extension("db-wal");
                Some((len(&path) + len(&wal)) as i64)
            }
            (Location::Database(name), Backend::Postgres) => {
                let size = sqlx::query_scalar::<_, i64>("SELECT pg_database_size($1)")
                    .bind(name.as_str())
                    .fetch_one(&self.pool)
                    .await;
                known("database size", size)
            }
            (Location::Namespace(schema), Backend::Postgres) => {
                let size = sqlx::query_scalar::<_, i64>(
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind = 'r'",
                )
                .bind(schema.as_str())
                .fetch_one(&self.pool)
                .await;
                known("schema size", size)
            }
            (Location::Namespace(_), Backend::Sqlite) => self.sqlite_table_bytes().await,
            (Location::Shared, _) => self.shared_row_bytes().await,
        };
        size.filter(|s| *s >= 0)
    }

    /// SQLite pages held by this namespace's tables and indexes (dbstat).
    async fn sqlite_table_bytes(&self) -> Option<i64> {
        let prefix = format!("{}%", self.table(""));
        let size = sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(pgsize), 0) AS BIGINT) FROM dbstat WHERE name LIKE $1",
        )
        .bind(prefix)
        .fetch_one(&self.pool)
        .await;
        known("table size (dbstat)", size)
    }

    /// In shared tables a tenant owns rows, not pages: sum the rows' sizes.
    async fn shared_row_bytes(&self) -> Option<i64> {
        let sql = match self.backend {
            Backend::Postgres => {
                "SELECT CAST(COALESCE(SUM(pg_column_size(u.*)), 0) AS BIGINT) \
                 FROM usage_events u WHERE tenant_id = $1"
            }
            Backend::Sqlite => {
                "SELECT CAST(COALESCE(SUM(LENGTH(request_id) + LENGTH(tenant_id) + \
                 COALESCE(LENGTH(api_key_id), 0) + LENGTH(model) + COALESCE(LENGTH(provider), 0) + \
                 COALESCE(LENGTH(dialect), 0) + COALESCE(LENGTH(error_type), 0) + 9 * 8), 0) AS BIGINT) \
                 FROM usage_events WHERE tenant_id = $1"
            }
        };
        let read = async {
            let mut tx = self.begin().await?;
            let n = sqlx::query_scalar::<_, i64>(sql)
                .bind(&self.tenant_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, DbError>(n)
        };
        known("row sizes", read.await)
    }
}

/// A size the backend could not tell is shown as unknown; why goes to the log.
fn known<E: std::fmt::Display>(what: &str, size: Result<i64, E>) -> Option<i64> {
    size.map_err(|e| tracing::warn!(error = %e, "tenant store {what} unavailable"))
        .ok()
}

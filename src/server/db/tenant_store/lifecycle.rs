//! A tenant store's life: provisioned (with every tenant migration),
//! registered with its tenant, and erased at whatever level it lives.

use std::path::PathBuf;

use sqlx::{AnyConnection, Executor};

use super::{
    migrate_store, schema, Location, Placement, PlacementRow, TenantStores, PLACEMENT_COLUMNS,
};
use crate::domain::tenant::IsolationLevel;
use crate::domain::time::now_millis;
use crate::server::db::{Backend, DbError};

impl TenantStores {
    /// Creates a new, empty store for the tenant at `level`, with every
    /// tenant migration applied. Partial artefacts are removed on failure.
    pub async fn provision(
        &self,
        tenant_id: &str,
        level: IsolationLevel,
    ) -> Result<Location, DbError> {
        let location = Location::fresh(level, tenant_id, self.main.backend, &self.main_name)?;
        if let Err(e) = self.build(tenant_id, &location).await {
            let _ = self.erase(tenant_id, &location).await;
            return Err(e);
        }
        Ok(location)
    }

    async fn build(&self, tenant_id: &str, location: &Location) -> Result<(), DbError> {
        match (location, self.main.backend) {
            (Location::Shared, _) => return Ok(()),
            (Location::Namespace(schema), Backend::Postgres) => {
                self.main
                    .pool
                    .execute(format!("CREATE SCHEMA {schema}").as_str())
                    .await?;
            }
            (Location::Database(name), Backend::Postgres) => {
                self.main
                    .pool
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await?;
            }
            (Location::Database(_), Backend::Sqlite) => {
                let dir = self.data_dir.clone().unwrap_or_default().join("tenants");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| DbError::DataDir(dir.display().to_string(), e))?;
            }
            (Location::Namespace(_), Backend::Sqlite) => {}
        }
        let store = self.at(tenant_id, location)?;
        migrate_store(&store, 0).await
    }

    /// Records a provisioned store as the tenant's, in the caller's transaction.
    pub async fn register(
        conn: &mut AnyConnection,
        tenant_id: &str,
        location: &Location,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO tenant_stores (tenant_id, level, location, epoch, version, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $5)",
        )
        .bind(tenant_id)
        .bind(location.level().as_str())
        .bind(location.stored())
        .bind(schema::LATEST)
        .bind(now_millis())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Removes the tenant's placement in the caller's transaction; writers
    /// fenced on it stop, and its stores can then be erased.
    pub async fn unregister(
        conn: &mut AnyConnection,
        tenant_id: &str,
    ) -> Result<Option<Placement>, DbError> {
        let row: Option<PlacementRow> = sqlx::query_as(&format!(
            "SELECT {PLACEMENT_COLUMNS} FROM tenant_stores WHERE tenant_id = $1"
        ))
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?;
        // The store's row first, as holds and their releases take it.
        for table in ["tenant_stores", "erasure_holds"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                .bind(tenant_id)
                .execute(&mut *conn)
                .await?;
        }
        row.map(PlacementRow::into_placement).transpose()
    }

    /// Removes the store at `location` and everything in it; returns the
    /// rows it held. Erasing what is already gone succeeds.
    pub async fn erase(&self, tenant_id: &str, location: &Location) -> Result<u64, DbError> {
        let rows = match self.at(tenant_id, location) {
            Ok(store) => store
                .row_counts()
                .await
                .map(|c| c.iter().map(|(_, n)| *n as u64).sum())
                .unwrap_or(0),
            Err(_) => 0,
        };
        match (location, self.main.backend) {
            (Location::Shared, _) => return self.at(tenant_id, location)?.delete_rows().await,
            (Location::Namespace(schema), Backend::Postgres) => {
                self.main
                    .pool
                    .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                    .await?;
            }
            (Location::Namespace(prefix), Backend::Sqlite) => {
                for table in schema::TABLES {
                    self.main
                        .pool
                        .execute(format!("DROP TABLE IF EXISTS {prefix}_{table}").as_str())
                        .await?;
                }
            }
            (Location::Database(name), backend) => {
                if let Some(pool) = self.pools.remove(name) {
                    pool.close().await;
                }
                match backend {
                    Backend::Postgres => {
                        self.main
                            .pool
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await?;
                    }
                    Backend::Sqlite => self.remove_files(name)?,
                }
            }
        }
        Ok(rows)
    }

    fn remove_files(&self, name: &str) -> Result<(), DbError> {
        let path = self.data_dir.clone().unwrap_or_default().join(name);
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DbError::DataDir(file.display().to_string(), e)),
            }
        }
        Ok(())
    }
}

//! Tenant data stores (DESIGN §3). Code above `db/` asks `TenantStores` for
//! a tenant's `TenantStore` and never learns which isolation level it got.
//!
//! Each tenant has one row in `tenant_stores` naming its level and place.
//! Its `epoch` changes with every placement change; writers check it (a
//! fence in the same transaction for stores in the main database, a re-read
//! after the write for separate databases) and write again where the data
//! now lives. Writes are idempotent, so writing twice is safe and a move
//! loses nothing.

mod by_model;
mod claims;
mod lifecycle;
mod location;
mod moves;
mod pools;
mod processing;
mod request_log;
mod rollup;
mod schema;
mod spend;
mod store;
mod usage;

use crate::domain::tenant::TenantId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sqlx::{AnyPool, Executor};

pub use claims::ErasureHold;
pub use location::Location;
pub use moves::OnSwitch;
pub use processing::{DayOutcomes, ProcessingRow};
pub use request_log::MAX_ACCESS_ROWS;
pub use rollup::DayRow;
pub use store::TenantStore;

use super::{pool_options, sqlite_path, Backend, Db, DbError};
use crate::domain::tenant::{IsolationLevel, TenantData};
use crate::domain::usage::UsageEvent;
use pools::TenantPools;

/// Connections per database-per-tenant pool: tenant writes come in batches.
const WRITE_ATTEMPTS: usize = 8;

/// Where a tenant's data is, and where it is going while it moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub tenant_id: TenantId,
    pub location: Location,
    pub target: Option<Location>,
    pub epoch: i64,
    pub version: i64,
}

impl Placement {
    /// Where writes go: the current store, and the target during a move.
    fn write_locations(&self) -> impl Iterator<Item = &Location> {
        std::iter::once(&self.location).chain(self.target.iter())
    }
}

#[derive(sqlx::FromRow)]
struct PlacementRow {
    tenant_id: TenantId,
    level: String,
    location: String,
    target_level: Option<String>,
    target_location: Option<String>,
    epoch: i64,
    version: i64,
}

const PLACEMENT_COLUMNS: &str =
    "tenant_id, level, location, target_level, target_location, epoch, version";

impl PlacementRow {
    fn into_placement(self) -> Result<Placement, DbError> {
        let level = parse_level(&self.level)?;
        let target = match (self.target_level, self.target_location) {
            (Some(l), Some(loc)) => Some(Location::from_stored(parse_level(&l)?, &loc)?),
            _ => None,
        };
        Ok(Placement {
            location: Location::from_stored(level, &self.location)?,
            tenant_id: self.tenant_id,
            target,
            epoch: self.epoch,
            version: self.version,
        })
    }
}

fn parse_level(s: &str) -> Result<IsolationLevel, DbError> {
    s.parse()
        .map_err(|_| DbError::Store(format!("unknown isolation level {s}")))
}

/// What became of a batch of usage events.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The tenant was deleted: its data is erased and must stay so.
    TenantGone,
}

pub struct TenantStores {
    main: Db,
    main_url: String,
    /// SQLite: the directory of the main file, where `tenants/` lives.
    data_dir: Option<PathBuf>,
    main_name: String,
    pools: TenantPools,
    /// Connections to each open tenant database.
    pool_size: u32,
    placements: Mutex<HashMap<String, Placement>>,
}

impl TenantStores {
    /// `pools`: how many tenant databases stay open at once, and the
    /// connections each may hold.
    pub fn new(main: Db, main_url: &str, (pool_cap, pool_size): (usize, u32)) -> Self {
        let data_dir = match main.backend {
            Backend::Sqlite => std::path::Path::new(sqlite_path(main_url))
                .parent()
                .map(std::path::Path::to_path_buf),
            Backend::Postgres => None,
        };
        let main_name = main_url
            .split('?')
            .next()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or("atrium")
            .to_string();
        Self {
            main,
            main_url: main_url.to_string(),
            data_dir,
            main_name,
            pools: TenantPools::new(pool_cap),
            pool_size: pool_size.max(1),
            placements: Mutex::new(HashMap::new()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.main.backend
    }

    /// Database-per-tenant pools open right now.
    pub fn open_pools(&self) -> usize {
        self.pools.open_count()
    }

    /// The tenant's placement as stored now.
    pub async fn placement(&self, tenant_id: &str) -> Result<Option<Placement>, DbError> {
        let row: Option<PlacementRow> = sqlx::query_as(&format!(
            "SELECT {PLACEMENT_COLUMNS} FROM tenant_stores WHERE tenant_id = $1"
        ))
        .bind(tenant_id)
        .fetch_optional(&self.main.pool)
        .await?;
        let placement = row.map(PlacementRow::into_placement).transpose()?;
        let mut cache = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        match &placement {
            Some(p) => cache.insert(tenant_id.to_string(), p.clone()),
            None => cache.remove(tenant_id),
        };
        Ok(placement)
    }

    fn cached(&self, tenant_id: &str) -> Option<Placement> {
        let cache = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(tenant_id).cloned()
    }

    /// The store a tenant's data is read from.
    pub async fn open(&self, tenant_id: &str) -> Result<TenantStore, DbError> {
        let p = self.placement(tenant_id).await?.ok_or(DbError::NoStore)?;
        self.at(tenant_id, &p.location)
    }

    /// A handle on the store at `location`, opening its pool if it has one.
    fn at(&self, tenant_id: &str, location: &Location) -> Result<TenantStore, DbError> {
        let pool = match location {
            Location::Database(name) => self.tenant_pool(name)?,
            _ => self.main.pool.clone(),
        };
        Ok(TenantStore {
            tenant_id: tenant_id.to_string(),
            location: location.clone(),
            backend: self.main.backend,
            pool,
        })
    }

    fn tenant_pool(&self, name: &str) -> Result<AnyPool, DbError> {
        self.pools.get_or_open(name, || {
            let url = self.tenant_url(name)?;
            Ok(pool_options(self.main.backend, self.pool_size)
                .idle_timeout(std::time::Duration::from_secs(60))
                .connect_lazy(&url)?)
        })
    }

    fn tenant_url(&self, name: &str) -> Result<String, DbError> {
        match self.main.backend {
            Backend::Sqlite => {
                let dir = self.data_dir.clone().unwrap_or_default();
                Ok(format!("sqlite://{}?mode=rwc", dir.join(name).display()))
            }
            Backend::Postgres => {
                let mut url = reqwest::Url::parse(&self.main_url)
                    .map_err(|e| DbError::Store(format!("DATABASE_URL: {e}")))?;
                url.set_path(&format!("/{name}"));
                Ok(url.to_string())
            }
        }
    }

    /// Writes a tenant's events wherever its data lives now, following
    /// moves that happen during the write.
    pub async fn write_usage(
        &self,
        tenant_id: &str,
        events: &[UsageEvent],
    ) -> Result<Written, DbError> {
        let mut placement = match self.cached(tenant_id) {
            Some(p) => Some(p),
            None => self.placement(tenant_id).await?,
        };
        for _ in 0..WRITE_ATTEMPTS {
            let Some(p) = placement else {
                return Ok(Written::TenantGone);
            };
            let result = self.write_at(&p, events).await;
            let fenced = p.write_locations().all(Location::in_main);
            match result {
                Ok(()) if fenced => return Ok(Written::Stored),
                Err(DbError::Moved) => {}
                Ok(()) | Err(_) => {
                    // A separate database cannot share the fence: check after.
                    let now = self.placement(tenant_id).await?;
                    if now.as_ref().map(|n| n.epoch) == Some(p.epoch) {
                        return result.map(|()| Written::Stored);
                    }
                    placement = now;
                    continue;
                }
            }
            placement = self.placement(tenant_id).await?;
        }
        Err(DbError::Moved)
    }

    async fn write_at(&self, p: &Placement, events: &[UsageEvent]) -> Result<(), DbError> {
        for location in p.write_locations() {
            self.at(&p.tenant_id, location)?
                .insert_usage(events, Some(p.epoch))
                .await?;
        }
        Ok(())
    }

    /// Brings every tenant store up to the latest tenant migration; returns
    /// how many were migrated. Progress goes to the log for large fleets.
    pub async fn migrate_all(&self) -> Result<usize, DbError> {
        let rows: Vec<PlacementRow> = sqlx::query_as(&format!(
            "SELECT {PLACEMENT_COLUMNS} FROM tenant_stores WHERE version < $1 ORDER BY tenant_id"
        ))
        .bind(schema::LATEST)
        .fetch_all(&self.main.pool)
        .await?;
        let total = rows.len();
        for (i, row) in rows.into_iter().enumerate() {
            let p = row.into_placement()?;
            for location in p.write_locations().filter(|l| **l != Location::Shared) {
                migrate_store(&self.at(&p.tenant_id, location)?, p.version).await?;
            }
            sqlx::query("UPDATE tenant_stores SET version = $1 WHERE tenant_id = $2")
                .bind(schema::LATEST)
                .bind(&p.tenant_id)
                .execute(&self.main.pool)
                .await?;
            if (i + 1) % 25 == 0 || i + 1 == total {
                tracing::info!(done = i + 1, total, "migrating tenant stores");
            }
        }
        Ok(total)
    }

    /// Bytes the tenant's data takes, where its backend can tell.
    pub async fn size_bytes(&self, tenant_id: &str) -> Result<Option<i64>, DbError> {
        let store = self.open(tenant_id).await?;
        Ok(store.size_bytes(self.data_dir.as_deref()).await)
    }

    /// Where the tenant's data lives, how big it is, and its row counts.
    pub async fn stats(&self, tenant_id: &str) -> Result<TenantData, DbError> {
        let p = self.placement(tenant_id).await?.ok_or(DbError::NoStore)?;
        let store = self.at(tenant_id, &p.location)?;
        Ok(TenantData {
            level: p.location.level(),
            location: p.location.describe(self.main.backend),
            moving_to: p.target.as_ref().map(Location::level),
            bytes: store.size_bytes(self.data_dir.as_deref()).await,
            rows: store.row_counts().await?,
        })
    }
}

/// Applies tenant migrations after `from_version` to one store.
async fn migrate_store(store: &TenantStore, from_version: i64) -> Result<(), DbError> {
    let start = usize::try_from(from_version).unwrap_or(0);
    let mut tx = store.begin().await?;
    for statements in schema::MIGRATIONS.iter().skip(start) {
        for sql in *statements {
            let sql = schema::render(sql, |name| store.table(name));
            tx.execute(sql.as_str()).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

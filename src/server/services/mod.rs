//! Use-cases, one module per concept: the only place business rules live.
//! The portal, the CLI and the gateway are thin adapters over these functions.

pub mod access_reviews;
pub mod actor;
pub mod admin_tokens;
pub mod api_keys;
pub mod audit;
pub mod audit_anchor;
pub mod audit_append;
pub mod audit_chain;
pub mod audit_export;
pub mod audit_names;
pub mod audit_query;
mod audit_reader;
pub mod audit_retention;
pub mod audit_turns;
pub mod bootstrap;
pub mod budgets;
pub mod catalog;
pub mod compliance;
pub mod control;
pub mod custom_models;
pub mod dashboards;
pub mod dead_letters;
pub mod error;
pub mod flags;
pub mod flash;
pub mod invoices;
pub mod litellm;
pub mod meters;
pub mod mfa;
pub mod paged;
pub mod plans;
pub mod policies;
pub mod replicas;
pub mod sessions;
pub mod sign_in_throttle;
pub mod tenant_data;
pub mod tenants;
#[cfg(test)]
mod tests;
pub mod usage;
pub mod usage_export;
pub mod users;

use std::sync::Arc;

pub use actor::Actor;
pub use error::ServiceError;

use super::config::Config;
use super::crypto::SecretBox;
use super::db::tenant_store::TenantStores;
use super::db::Db;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// The shared core every adapter holds: the database, the config and the
/// caches the hot path reads instead of the database.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub config: Arc<Config>,
    pub keys: Arc<api_keys::KeyCache>,
    pub catalog: Arc<catalog::CatalogCache>,
    pub secrets: SecretBox,
    pub stores: Arc<TenantStores>,
    pub policies: Arc<policies::PolicyCache>,
    pub flags: Arc<flags::FlagCache>,
    pub budgets: Arc<budgets::BudgetCache>,
    /// This process's id among the replicas: job leases and the replica
    /// registry name it.
    pub replica_id: Arc<str>,
    /// What the engines of custom-model pools hold, as last seen.
    pub pools: Arc<custom_models::PoolRuntime>,
    refreshing: Arc<tokio::sync::Mutex<()>>,
    /// Rebuilds of each cache (in `Caches::EACH` order) since start.
    pub cache_rebuilds: Arc<[std::sync::atomic::AtomicU64; 5]>,
    /// Turns for audit searches no index narrows.
    pub audit_turns: Arc<audit_turns::SearchTurns>,
}

impl Services {
    pub fn new(db: Db, config: Config, secrets: SecretBox) -> Self {
        let pools = (config.tenant_pools, config.tenant_pool_size);
        let stores = TenantStores::new(db.clone(), &config.database_url(), pools);
        Self {
            stores: Arc::new(stores),
            policies: Arc::new(policies::PolicyCache::default()),
            flags: Arc::new(flags::FlagCache::default()),
            budgets: Arc::new(budgets::BudgetCache::default()),
            replica_id: Arc::from(format!("rep_{}", new_id().replace('-', ""))),
            pools: Arc::new(custom_models::PoolRuntime::default()),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
            cache_rebuilds: Arc::default(),
            audit_turns: Arc::default(),
            db,
            config: Arc::new(config),
            keys: Arc::new(api_keys::KeyCache::default()),
            catalog: Arc::new(catalog::CatalogCache::default()),
            secrets,
        }
    }

    /// Rebuilds every cache that mirrors the control plane and swaps the
    /// new contents in; readers keep the old ones until then. Refreshes run
    /// one at a time, so an older read can never overwrite a newer one.
    pub async fn refresh_caches(&self) -> Result<()> {
        self.refresh(control::Caches::ALL).await
    }

    /// Rebuilds the named caches only, counting each rebuild; the first
    /// failure, after every cache named was tried.
    pub async fn refresh(&self, caches: control::Caches) -> Result<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        let mut first = None;
        for (i, (cache, _)) in control::Caches::EACH.into_iter().enumerate() {
            if !caches.contains(cache) {
                continue;
            }
            match self.rebuild(cache).await {
                Ok(()) => {
                    self.cache_rebuilds[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// As `refresh`, for the watcher: every cache named is tried on its
    /// own; returns the ones that failed (logged), to be tried again.
    pub async fn refresh_each(&self, caches: control::Caches) -> control::Caches {
        let mut failed = control::Caches::NONE;
        for (cache, name) in control::Caches::EACH {
            if caches.contains(cache) {
                if let Err(e) = self.refresh(cache).await {
                    tracing::warn!(cache = name, error = ?e, "cache refresh failed; retrying");
                    failed = failed.and(cache);
                }
            }
        }
        failed
    }

    async fn rebuild(&self, cache: control::Caches) -> Result<()> {
        use control::Caches;
        match cache {
            Caches::CATALOG => catalog::refresh(self).await,
            Caches::POLICIES => policies::refresh(self).await,
            Caches::FLAGS => flags::refresh(self).await,
            Caches::BUDGETS => budgets::refresh(self).await,
            _ => api_keys::refresh(self).await,
        }
    }
}

/// A transaction whose reads all see one moment of the database (SQLite's
/// read transactions do; PostgreSQL needs REPEATABLE READ for it).
pub async fn consistent_read(svc: &Services) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = svc.db.pool.begin().await?;
    if svc.db.backend == super::db::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// A fresh id. Version 7 UUIDs start with the time, so rows keyed by them
/// (audit events, usage events) append to the end of their index instead
/// of dirtying a random page of it per insert: on SQLite every such page is
/// written again to the WAL at each commit.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Inputs at least this large are scanned off the async workers.
pub const CPU_BOUND_BYTES: usize = 64 * 1024;

/// Runs `f`, a scan of `size` bytes: small ones inline, large ones on the
/// blocking pool, at most one per core at a time, so a few huge bodies can
/// neither starve the async workers nor fill the blocking pool while other
/// tenants' requests wait.
pub async fn cpu_bound<T: Send + 'static>(
    size: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    if size < CPU_BOUND_BYTES {
        return Ok(f());
    }
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _slot = slots
        .acquire()
        .await
        .map_err(|e| ServiceError::Internal(format!("scan slots closed: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("scan failed: {e}")))
}

//! The key cache the gateway authenticates from: warm keys never touch the
//! database, a change revalidates them instead of emptying the cache, and a
//! cold key is loaded once however many requests present it.

use crate::domain::tenant::TenantId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sqlx::FromRow;
use tokio::sync::OnceCell;

use super::{AuthError, Authenticated, KeyRow, COLUMNS};
use crate::domain::api_key::ApiKey;
use crate::domain::tenant::Tenant;
use crate::server::services::tenants::{self, TenantRow};
use crate::server::services::{Result, Services};

/// One key's load from the database, awaited by every request presenting it.
type ColdLoad = OnceCell<Result<Arc<Authenticated>, AuthError>>;

/// Validated keys by hash. A control-plane change revalidates the cached
/// keys in one query (`refresh`) rather than emptying the cache, so warm
/// requests never wait on the database. Expiry is checked on every hit, so a
/// cached key still expires on time.
#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, Arc<Authenticated>>>,
    /// Bumped when a refresh starts: a cold load that read the database
    /// before it must not cache what it read.
    generation: AtomicU64,
    /// One database load per unknown key at a time, however many requests
    /// present it at once.
    loading: Mutex<HashMap<String, Arc<ColdLoad>>>,
    last_used: Mutex<HashMap<String, i64>>,
}

impl KeyCache {
    pub(super) fn get(&self, hash: &str) -> Option<Arc<Authenticated>> {
        self.entries.read().ok()?.get(hash).cloned()
    }

    fn cached_hashes(&self) -> Vec<String> {
        self.entries
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Caches a cold load, unless a refresh began after the load did.
    fn put(&self, generation: u64, hash: &str, auth: Arc<Authenticated>) {
        if let Ok(mut m) = self.entries.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                m.insert(hash.to_string(), auth);
            }
        }
    }

    pub(super) fn touch(&self, key_id: &str, at: i64) {
        if let Ok(mut m) = self.last_used.lock() {
            m.insert(key_id.to_string(), at);
        }
    }

    /// Writes the "last used" times gathered since the previous flush.
    pub async fn flush_last_used(&self, svc: &Services) {
        let pending = match self.last_used.lock() {
            Ok(mut m) => std::mem::take(&mut *m),
            Err(_) => return,
        };
        for (id, at) in pending {
            let res = sqlx::query(
                "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(at)
            .bind(&id)
            .execute(&svc.db.pool)
            .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "could not record key last use");
            }
        }
    }
}
/// A cold load, shared by every request that presents the same unknown key
/// while it runs.
pub(super) async fn load_once(svc: &Services, hash: &str) -> Result<Arc<Authenticated>, AuthError> {
    let cell = match svc.keys.loading.lock() {
        Ok(mut m) => m.entry(hash.to_string()).or_default().clone(),
        Err(_) => return Err(AuthError::Unavailable),
    };
    let result = cell
        .get_or_init(|| async {
            let generation = svc.keys.generation.load(Ordering::SeqCst);
            let loaded = load(svc, hash).await.map(Arc::new);
            if let Ok(auth) = &loaded {
                svc.keys.put(generation, hash, auth.clone());
            }
            loaded
        })
        .await
        .clone();
    if let Ok(mut m) = svc.keys.loading.lock() {
        if m.get(hash).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            m.remove(hash);
        }
    }
    result
}

/// Revalidates every cached key against the database in one pass: changed
/// keys and tenants are replaced, revoked or deleted ones dropped, and the
/// rest stay warm.
#[tracing::instrument(skip_all)]
pub async fn refresh(svc: &Services) -> Result<()> {
    svc.keys.generation.fetch_add(1, Ordering::SeqCst);
    let hashes = svc.keys.cached_hashes();
    let mut fresh = HashMap::with_capacity(hashes.len());
    for chunk in hashes.chunks(REFRESH_CHUNK) {
        for (hash, auth) in load_many(svc, chunk).await? {
            fresh.insert(hash, Arc::new(auth));
        }
    }
    if let Ok(mut m) = svc.keys.entries.write() {
        m.retain(|hash, _| !hashes.contains(hash) || fresh.contains_key(hash));
        m.extend(fresh);
    }
    Ok(())
}

/// Keys looked up per query when revalidating the cache.
const REFRESH_CHUNK: usize = 500;

async fn load_many(svc: &Services, hashes: &[String]) -> Result<Vec<(String, Authenticated)>> {
    let marks: Vec<String> = (1..=hashes.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT key_hash, {COLUMNS} FROM api_keys WHERE key_hash IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query_as::<_, HashedKeyRow>(&sql);
    for h in hashes {
        q = q.bind(h);
    }
    let rows = q.fetch_all(&svc.db.pool).await?;
    let tenants = tenants_of(svc, &rows).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let tenant = tenants.get(&row.key.tenant_id)?.clone();
            let api_key = ApiKey::from(row.key);
            Some((row.key_hash, Authenticated::new(api_key, tenant)))
        })
        .collect())
}

/// The tenants of a chunk of keys, in one query: many keys share a tenant.
async fn tenants_of(svc: &Services, rows: &[HashedKeyRow]) -> Result<HashMap<TenantId, Tenant>> {
    let mut ids: Vec<&str> = rows.iter().map(|r| r.key.tenant_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {} FROM tenants WHERE id IN ({})",
        tenants::COLUMNS,
        marks.join(", ")
    );
    let mut q = sqlx::query_as::<_, TenantRow>(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(&svc.db.pool)
        .await?
        .into_iter()
        .map(|r| r.into_tenant().map(|t| (t.id.clone(), t)))
        .collect()
}

#[derive(FromRow)]
struct HashedKeyRow {
    key_hash: String,
    #[sqlx(flatten)]
    key: KeyRow,
}

async fn load(svc: &Services, hash: &str) -> Result<Authenticated, AuthError> {
    let key: Option<KeyRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(&svc.db.pool)
    .await
    .map_err(|_| AuthError::Unavailable)?;
    let api_key = ApiKey::from(key.ok_or(AuthError::Invalid)?);
    let tenant: TenantRow = sqlx::query_as(&format!(
        "SELECT {} FROM tenants WHERE id = $1",
        tenants::COLUMNS
    ))
    .bind(&api_key.tenant_id)
    .fetch_one(&svc.db.pool)
    .await
    .map_err(|_| AuthError::Invalid)?;
    let tenant = tenant.into_tenant().map_err(|_| AuthError::Unavailable)?;
    Ok(Authenticated::new(api_key, tenant))
}

/// Flushes key "last used" times every few seconds.
pub fn spawn_last_used_flusher(svc: Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            svc.keys.flush_last_used(&svc).await;
        }
    })
}

//! API keys: created once, stored as SHA-256 hashes, checked on every
//! completion request from a cache so the warm path never touches the database.

use crate::domain::audit::AuditAction;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::OnceCell;

use serde_json::json;
use sqlx::FromRow;
use thiserror::Error;

use crate::domain::api_key::{self, ApiKey, CreatedKey, KeyStatus};
use crate::domain::role::Access;
use crate::domain::tenant::Tenant;
use crate::domain::time::{now_millis, DAY};
use crate::server::crypto::token::{hash_token, random_hex};

use super::audit::{self, Entry};
use super::tenants::{self, TenantRow};
use super::{control, Actor, Result, ServiceError, Services};

const COLUMNS: &str =
    "id, tenant_id, name, prefix, created_at, expires_at, last_used_at, revoked_at";

#[derive(FromRow)]
struct KeyRow {
    id: String,
    tenant_id: String,
    name: String,
    prefix: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            id: r.id,
            tenant_id: r.tenant_id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn create(
    svc: &Services,
    actor: &Actor,
    tenant_id: &str,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<CreatedKey> {
    actor.require(tenant_id, Access::Manage)?;
    let tenant = tenants::get(svc, actor, tenant_id).await?;
    let name = api_key::key_name(name)?;
    let days = api_key::expiry_days(expires_in_days)?;
    let now = now_millis();
    let id = random_hex(api_key::ID_LEN / 2);
    let key = api_key::compose(&id, &random_hex(api_key::SECRET_LEN / 2));
    let created = ApiKey {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        name,
        prefix: api_key::display_prefix(&id),
        created_at: now,
        expires_at: days.map(|d| now + d * DAY),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_by, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&created.id)
    .bind(&created.tenant_id)
    .bind(&created.name)
    .bind(&created.prefix)
    .bind(hash_token(&key))
    .bind(&actor.label)
    .bind(now)
    .bind(created.expires_at)
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::ApiKeyCreate, "api_key", &created.id)
        .tenant(&created.tenant_id)
        .details(json!({ "name": created.name, "prefix": created.prefix,
                          "expires_at": created.expires_at }));
    audit::record(&mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(CreatedKey {
        key,
        api_key: created,
    })
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn list(svc: &Services, actor: &Actor, tenant_id: &str) -> Result<Vec<ApiKey>> {
    actor.require(tenant_id, Access::Manage)?;
    svc.keys.flush_last_used(svc).await;
    let rows: Vec<KeyRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC"
    ))
    .bind(tenant_id)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

#[tracing::instrument(level = "debug", skip_all, fields(key_id = %key_id))]
pub async fn revoke(svc: &Services, actor: &Actor, key_id: &str) -> Result<ApiKey> {
    let row: Option<KeyRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(key_id.trim())
            .fetch_optional(&svc.db.pool)
            .await?;
    let mut key = ApiKey::from(row.ok_or(ServiceError::NotFound("api key"))?);
    actor.require(&key.tenant_id, Access::Manage)?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&key.id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::ApiKeyRevoke, "api_key", &key.id)
        .tenant(&key.tenant_id)
        .details(json!({ "prefix": key.prefix }));
    control::commit(svc, tx, actor, entry).await?;
    key.revoked_at = Some(now);
    Ok(key)
}

/// Why a presented key was refused. Callers answer 401 for all of them
/// and keep the reason for their logs.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing API key")]
    Missing,
    #[error("invalid API key")]
    Invalid,
    #[error("API key revoked")]
    Revoked,
    #[error("API key expired")]
    Expired,
    #[error("tenant suspended")]
    TenantSuspended,
    #[error("key store unavailable")]
    Unavailable,
}

/// What the gateway learns from a valid key.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub api_key: ApiKey,
    pub tenant: Tenant,
}

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
    fn get(&self, hash: &str) -> Option<Arc<Authenticated>> {
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

    fn touch(&self, key_id: &str, at: i64) {
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

/// The gateway's key check: `atr_…` → (key, tenant), from cache when warm.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn authenticate(
    svc: &Services,
    presented: &str,
) -> Result<Arc<Authenticated>, AuthError> {
    let presented = presented.trim();
    if presented.is_empty() {
        return Err(AuthError::Missing);
    }
    if api_key::parse(presented).is_none() {
        return Err(AuthError::Invalid);
    }
    let hash = hash_token(presented);
    let auth = match svc.keys.get(&hash) {
        Some(hit) => hit,
        None => load_once(svc, &hash).await?,
    };
    let now = now_millis();
    match auth.api_key.status(now) {
        KeyStatus::Revoked => return Err(AuthError::Revoked),
        KeyStatus::Expired => return Err(AuthError::Expired),
        KeyStatus::Active => {}
    }
    if !auth.tenant.is_active() {
        return Err(AuthError::TenantSuspended);
    }
    svc.keys.touch(&auth.api_key.id, now);
    Ok(auth)
}

/// A cold load, shared by every request that presents the same unknown key
/// while it runs.
async fn load_once(svc: &Services, hash: &str) -> Result<Arc<Authenticated>, AuthError> {
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
            Some((row.key_hash, Authenticated { api_key, tenant }))
        })
        .collect())
}

/// The tenants of a chunk of keys, in one query: many keys share a tenant.
async fn tenants_of(svc: &Services, rows: &[HashedKeyRow]) -> Result<HashMap<String, Tenant>> {
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
    Ok(Authenticated { api_key, tenant })
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

//! API keys: created once, stored as SHA-256 hashes, checked on every
//! completion request from a cache so the warm path never touches the database.

mod cache;

pub use cache::{refresh, spawn_last_used_flusher, KeyCache};

use crate::domain::tenant::TenantId;
use std::sync::Arc;

use serde_json::json;
use sqlx::FromRow;
use thiserror::Error;

use crate::domain::api_key::{self, ApiKey, CreatedKey, KeyStatus};
use crate::domain::audit::AuditAction;
use crate::domain::cursor::{CursorPage, CursorRequest};
use crate::domain::role::Access;
use crate::domain::tenant::Tenant;
use crate::domain::time::{now_millis, DAY};
use crate::server::crypto::token::{hash_token, random_hex};

use super::audit::{self, Entry};
use super::tenants;
use super::{control, paged, Actor, Result, ServiceError, Services};

use cache::load_once;

/// What a key change reaches: the key cache, and budgets (which name the
/// key they apply to).
const KEY_CACHES: control::Caches = control::Caches::KEYS.and(control::Caches::BUDGETS);

pub(super) const COLUMNS: &str =
    "id, tenant_id, name, prefix, created_at, expires_at, last_used_at, revoked_at";

#[derive(FromRow)]
pub(super) struct KeyRow {
    id: String,
    tenant_id: TenantId,
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
    tenant_id: &TenantId,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<CreatedKey> {
    actor.require(tenant_id, Access::Manage)?;
    let days = api_key::expiry_days(expires_in_days)?;
    let expires_at = days.map(|d| now_millis() + d * DAY);
    create_until(svc, actor, tenant_id, name, expires_at).await
}

/// As `create`, expiring at an exact time (LiteLLM's `duration` may be
/// hours or minutes); the caller bounds it.
pub async fn create_until(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    name: &str,
    expires_at: Option<i64>,
) -> Result<CreatedKey> {
    actor.require(tenant_id, Access::Manage)?;
    let tenant = tenants::get(svc, actor, tenant_id).await?;
    let name = api_key::key_name(name)?;
    let (created, key) = fresh(&tenant.id, name, expires_at);
    let mut tx = svc.db.pool.begin().await?;
    let lineage = created.id.clone();
    let created = insert(svc, &mut tx, actor, created, &key, &lineage).await?;
    tx.commit().await?;
    Ok(CreatedKey {
        key,
        api_key: created,
    })
}

/// A new key (row and secret), not yet stored.
fn fresh(tenant_id: &TenantId, name: String, expires_at: Option<i64>) -> (ApiKey, String) {
    let id = random_hex(api_key::ID_LEN / 2);
    let key = api_key::compose(&id, &random_hex(api_key::SECRET_LEN / 2));
    let created = ApiKey {
        id: id.clone(),
        tenant_id: tenant_id.clone(),
        name,
        prefix: api_key::display_prefix(&id),
        created_at: now_millis(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    (created, key)
}

/// Stores a new key and its audit entry in the caller's transaction;
/// `lineage` is the first key's id, kept across rotations.
async fn insert(
    svc: &Services,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    created: ApiKey,
    key: &str,
    lineage: &str,
) -> Result<ApiKey> {
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_by, created_at, \
         expires_at, lineage_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&created.id)
    .bind(&created.tenant_id)
    .bind(&created.name)
    .bind(&created.prefix)
    .bind(hash_token(key))
    .bind(actor.audit_name())
    .bind(created.created_at)
    .bind(created.expires_at)
    .bind(lineage)
    .execute(&mut **tx)
    .await?;
    let entry = Entry::success(AuditAction::ApiKeyCreate, "api_key", &created.id)
        .tenant(&created.tenant_id)
        .details(json!({ "name": created.name, "prefix": created.prefix,
                          "expires_at": created.expires_at }));
    audit::record(svc, tx, actor, entry).await?;
    Ok(created)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant_id = %tenant_id))]
pub async fn list(svc: &Services, actor: &Actor, tenant_id: &TenantId) -> Result<Vec<ApiKey>> {
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

/// A tenant's keys oldest first, after a cursor (the admin API).
pub async fn list_cursor(
    svc: &Services,
    actor: &Actor,
    tenant_id: &TenantId,
    page: &CursorRequest,
) -> Result<CursorPage<ApiKey>> {
    actor.require(tenant_id, Access::Manage)?;
    svc.keys.flush_last_used(svc).await;
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 \
         AND (created_at > $2 OR (created_at = $2 AND id > $3)) ORDER BY created_at, id LIMIT $4"
    );
    let rows: Vec<KeyRow> =
        paged::after_cursor(svc, &sql, &[Some(tenant_id.as_str())], page).await?;
    let keys = rows.into_iter().map(ApiKey::from).collect();
    Ok(page.page(keys, |k: &ApiKey| (k.created_at, k.id.clone())))
}

/// One key, by id; another tenant's key is not found.
pub async fn get(svc: &Services, actor: &Actor, key_id: &str) -> Result<ApiKey> {
    let row: Option<KeyRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(key_id.trim())
            .fetch_optional(&svc.db.pool)
            .await?;
    let key = ApiKey::from(row.ok_or(ServiceError::NotFound("api key"))?);
    actor.require_on(&key.tenant_id, Access::Manage, "api key")?;
    Ok(key)
}

/// The ids of the live keys with this name within the caller's reach:
/// its own tenant's for a tenant-bound caller, any tenant's otherwise.
pub async fn ids_named(svc: &Services, actor: &Actor, name: &str) -> Result<Vec<String>> {
    let own = actor.scope()?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE name = $1 AND revoked_at IS NULL \
         AND ($2 IS NULL OR tenant_id = $2) ORDER BY id LIMIT 101",
    )
    .bind(name.trim())
    .bind(own)
    .fetch_all(&svc.db.pool)
    .await?;
    Ok(ids)
}

/// A new secret for a key: a fresh key with the same name and expiry is
/// issued and the old one revoked, in one transaction that revokes only a
/// still-live key, so two concurrent rotations cannot both issue one.
/// The key's budgets move to the new key and go on counting what the old
/// one spent (the two share a lineage): a tenant admin cannot shed a
/// budget the platform admin set on a key by rotating it. Both steps are
/// audited.
pub async fn rotate(svc: &Services, actor: &Actor, key_id: &str) -> Result<CreatedKey> {
    let old = get(svc, actor, key_id).await?;
    let now = now_millis();
    if old.status(now) != KeyStatus::Active {
        return Err(ServiceError::Conflict(
            "only an active key can be rotated".into(),
        ));
    }
    let (fresh, key) = fresh(&old.tenant_id, old.name.clone(), old.expires_at);
    let mut tx = svc.db.pool.begin().await?;
    // Takes turns with a budget being set on this tenant's keys, so that
    // budget lands on the key this rotation leaves live.
    control::lock_tenant(&mut tx, old.tenant_id.as_str()).await?;
    let revoked =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&old.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if revoked != 1 {
        return Err(ServiceError::Conflict(
            "the key was revoked or rotated meanwhile".into(),
        ));
    }
    let lineage: String =
        sqlx::query_scalar("SELECT COALESCE(lineage_id, id) FROM api_keys WHERE id = $1")
            .bind(&old.id)
            .fetch_one(&mut *tx)
            .await?;
    let created = insert(svc, &mut tx, actor, fresh, &key, &lineage).await?;
    let budgets_moved = move_budgets(&mut tx, &old.id, &created.id, now).await?;
    let entry = Entry::success(AuditAction::ApiKeyRevoke, "api_key", &old.id)
        .tenant(&old.tenant_id)
        .details(json!({ "prefix": old.prefix, "rotated_to": created.id,
                          "budgets_moved": budgets_moved }));
    control::commit(svc, tx, actor, entry, KEY_CACHES).await?;
    Ok(CreatedKey {
        key,
        api_key: created,
    })
}

/// Moves the old key's budgets to its successor; says which moved.
async fn move_budgets(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    old: &str,
    new: &str,
    now: i64,
) -> Result<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query_scalar(
        "UPDATE budgets SET api_key_id = $1, updated_at = $2 WHERE api_key_id = $3 RETURNING id",
    )
    .bind(new)
    .bind(now)
    .bind(old)
    .fetch_all(&mut **tx)
    .await?;
    ids.sort_unstable();
    Ok(ids)
}

#[tracing::instrument(level = "debug", skip_all, fields(key_id = %key_id))]
pub async fn revoke(svc: &Services, actor: &Actor, key_id: &str) -> Result<ApiKey> {
    let row: Option<KeyRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(key_id.trim())
            .fetch_optional(&svc.db.pool)
            .await?;
    let mut key = ApiKey::from(row.ok_or(ServiceError::NotFound("api key"))?);
    actor.require_on(&key.tenant_id, Access::Manage, "api key")?;
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
    control::commit(svc, tx, actor, entry, KEY_CACHES).await?;
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
    /// The tenant as platform flags see it, built once per cache fill so
    /// a request's capability checks allocate nothing.
    pub flag_context: crate::domain::flag::Context,
}

impl Authenticated {
    pub fn new(api_key: ApiKey, tenant: Tenant) -> Self {
        let flag_context = super::flags::tenant_context(&tenant);
        Authenticated {
            api_key,
            tenant,
            flag_context,
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

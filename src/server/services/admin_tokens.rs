//! Admin tokens: created and revoked by platform admins, stored as SHA-256
//! hashes, shown once. A presented token becomes an `Actor` with the role
//! of its scope, so the admin API passes through the same service checks
//! as a portal user of the same reach.

use serde_json::json;
use sqlx::FromRow;

use crate::domain::admin_token::{self, AdminToken, CreatedToken, NewAdminToken};
use crate::domain::api_key::KeyStatus;
use crate::domain::audit::AuditAction;
use crate::domain::cursor::{CursorPage, CursorRequest};
use crate::domain::tenant::TenantId;
use crate::domain::time::{now_millis, DAY, MINUTE};
use crate::server::crypto::token::{hash_token, random_hex};

use super::audit::{self, Entry};
use super::{paged, tenants, Actor, Result, ServiceError, Services};

const COLUMNS: &str = "id, name, scope, tenant_id, prefix, rate_per_minute, created_by, \
     created_at, expires_at, last_used_at, revoked_at";

#[derive(FromRow)]
struct TokenRow {
    id: String,
    name: String,
    scope: String,
    tenant_id: Option<TenantId>,
    prefix: String,
    rate_per_minute: i64,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TokenRow {
    fn into_token(self) -> Result<AdminToken> {
        Ok(AdminToken {
            scope: self.scope.parse()?,
            id: self.id,
            name: self.name,
            tenant_id: self.tenant_id,
            prefix: self.prefix,
            rate_per_minute: self.rate_per_minute,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// A platform admin creates a token; its secret is returned this once.
pub async fn create(svc: &Services, actor: &Actor, new: NewAdminToken) -> Result<CreatedToken> {
    actor.require_platform_admin()?;
    // Only people mint tokens (a portal user or the CLI): a leaked token
    // that could make more would outlive its own revocation.
    if actor.label.starts_with("token:") {
        return Err(ServiceError::Forbidden);
    }
    let (name, days, rate) = new.check()?;
    let tenant_id = match new.tenant.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(tenants::find(svc, actor, t).await?.id),
        None => None,
    };
    let now = now_millis();
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM admin_tokens WHERE revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .fetch_one(&svc.db.pool)
    .await?;
    if live >= admin_token::MAX_LIVE_TOKENS {
        return Err(ServiceError::Conflict(format!(
            "at most {} live admin tokens; revoke unused ones first",
            admin_token::MAX_LIVE_TOKENS
        )));
    }
    let id = random_hex(admin_token::ID_LEN / 2);
    let token = admin_token::compose(&id, &random_hex(admin_token::SECRET_LEN / 2));
    let created = AdminToken {
        prefix: admin_token::display_prefix(&id),
        id,
        name,
        scope: new.scope,
        tenant_id,
        rate_per_minute: rate,
        created_by: actor.audit_name(),
        created_at: now,
        expires_at: days.map(|d| now + d * DAY),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO admin_tokens ({COLUMNS}, token_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10)"
    ))
    .bind(&created.id)
    .bind(&created.name)
    .bind(created.scope.as_str())
    .bind(&created.tenant_id)
    .bind(&created.prefix)
    .bind(created.rate_per_minute)
    .bind(&created.created_by)
    .bind(created.created_at)
    .bind(created.expires_at)
    .bind(hash_token(&token))
    .execute(&mut *tx)
    .await?;
    let entry = Entry::success(AuditAction::AdminTokenCreate, "admin_token", &created.id)
        .tenant_opt(created.tenant_id.as_ref())
        .details(json!({ "name": created.name, "scope": created.scope,
                         "prefix": created.prefix, "expires_at": created.expires_at,
                         "rate_per_minute": created.rate_per_minute }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(CreatedToken {
        token,
        admin_token: created,
    })
}

/// Every token, oldest first, for platform admins and viewers.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    page: &CursorRequest,
) -> Result<CursorPage<AdminToken>> {
    actor.require_platform_read()?;
    let sql = format!(
        "SELECT {COLUMNS} FROM admin_tokens WHERE created_at > $1 OR (created_at = $1 AND id > $2) \
         ORDER BY created_at, id LIMIT $3"
    );
    let rows: Vec<TokenRow> = paged::after_cursor(svc, &sql, &[], page).await?;
    let tokens = rows
        .into_iter()
        .map(TokenRow::into_token)
        .collect::<Result<Vec<_>>>()?;
    Ok(page.page(tokens, |t| (t.created_at, t.id.clone())))
}

pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<AdminToken> {
    actor.require_platform_read()?;
    fetch(svc, id)
        .await?
        .ok_or(ServiceError::NotFound("admin token"))
}

async fn fetch(svc: &Services, id: &str) -> Result<Option<AdminToken>> {
    let row: Option<TokenRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM admin_tokens WHERE id = $1"))
            .bind(id.trim())
            .fetch_optional(&svc.db.pool)
            .await?;
    row.map(TokenRow::into_token).transpose()
}

/// Revoking is immediate: the next call with the token is refused.
pub async fn revoke(svc: &Services, actor: &Actor, id: &str) -> Result<AdminToken> {
    actor.require_platform_admin()?;
    let mut token = get(svc, actor, id).await?;
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&token.id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::AdminTokenRevoke, "admin_token", &token.id)
        .tenant_opt(token.tenant_id.as_ref())
        .details(json!({ "prefix": token.prefix }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    token.revoked_at = Some(now);
    Ok(token)
}

/// The token presented on a call, and who it acts as. Every refusal is
/// the same `Unauthenticated`, so a caller cannot tell a revoked token
/// from one that never existed.
pub async fn authenticate(
    svc: &Services,
    presented: &str,
    client_ip: Option<String>,
) -> Result<(AdminToken, Actor)> {
    let Some((id, _)) = admin_token::parse(presented.trim()) else {
        return Err(ServiceError::Unauthenticated);
    };
    let row: Option<TokenRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM admin_tokens WHERE id = $1 AND token_hash = $2"
    ))
    .bind(id)
    .bind(hash_token(presented.trim()))
    .fetch_optional(&svc.db.pool)
    .await?;
    let token = row
        .map(TokenRow::into_token)
        .transpose()?
        .ok_or(ServiceError::Unauthenticated)?;
    let now = now_millis();
    if token.status(now) != KeyStatus::Active {
        return Err(ServiceError::Unauthenticated);
    }
    touch(svc, &token, now).await?;
    let actor = Actor {
        user_id: None,
        label: format!("token:{}", token.id),
        role: token.scope.role(),
        tenant_id: token.tenant_id.clone(),
        client_ip,
    };
    Ok((token, actor))
}

/// Last use is kept to the minute: a busy token writes once a minute,
/// not on every call.
async fn touch(svc: &Services, token: &AdminToken, now: i64) -> Result<()> {
    if token.last_used_at.is_some_and(|t| now - t < MINUTE) {
        return Ok(());
    }
    sqlx::query("UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&token.id)
        .execute(&svc.db.pool)
        .await?;
    Ok(())
}

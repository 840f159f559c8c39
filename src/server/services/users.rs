//! Portal users: platform admins, and tenant admins and viewers bound to
//! one tenant.

use crate::domain::audit::AuditAction;
use crate::domain::tenant::TenantId;
use serde_json::json;
use sqlx::FromRow;

use crate::domain::cursor::{CursorPage, CursorRequest};
use crate::domain::page::{Page, PageRequest};
use crate::domain::role::{Access, Role};
use crate::domain::time::now_millis;
use crate::domain::user::Email;
use crate::domain::user::{self, User};
use crate::domain::validation::Invalid;
use crate::server::crypto::password;

use super::audit::{self, Entry};
use super::{new_id, paged, Actor, Result, ServiceError, Services};

#[derive(FromRow)]
struct UserRow {
    id: String,
    email: String,
    role: String,
    tenant_id: Option<TenantId>,
    tenant_name: Option<String>,
    disabled_at: Option<i64>,
    created_at: i64,
}

impl UserRow {
    fn into_user(self) -> Result<User> {
        Ok(User {
            id: self.id,
            email: self.email,
            role: self.role.parse()?,
            tenant_id: self.tenant_id,
            tenant_name: self.tenant_name,
            disabled: self.disabled_at.is_some(),
            created_at: self.created_at,
        })
    }
}

const SELECT: &str = "SELECT u.id, u.email, u.role, u.tenant_id, t.name AS tenant_name, \
                      u.disabled_at, u.created_at FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id";

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub tenant_id: Option<&'a str>,
}

/// Platform admins create anyone; tenant admins create users of their own tenant.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(svc: &Services, actor: &Actor, new: NewUser<'_>) -> Result<User> {
    let email = Email::parse(new.email)?.to_string();
    user::password(new.password)?;
    let tenant_id = new
        .tenant_id
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(TenantId::parse)
        .transpose()?;
    let tenant_id = tenant_id.as_ref();
    user::role_binding(new.role, tenant_id.map(|t| t.as_str()))?;
    if !Role::FOR_USERS.contains(&new.role) {
        return Err(Invalid::new("role", "is held by admin tokens, not by portal users").into());
    }
    match tenant_id {
        Some(t) => actor.require(t, Access::Manage)?,
        None => actor.require_platform_admin()?,
    }
    if new.role == Role::PlatformAdmin {
        actor.require_platform_admin()?;
    }
    if let Some(t) = tenant_id {
        super::tenants::get(svc, actor, t).await?;
    }
    let hash = password::hash(new.password).await?;
    let id = new_id();
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, tenant_id, created_at, updated_at, \
         created_by, password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)",
    )
    .bind(&id)
    .bind(&email)
    .bind(&hash)
    .bind(new.role.as_str())
    .bind(tenant_id)
    .bind(now)
    .bind(now)
    .bind(actor.audit_name())
    .execute(&mut *tx)
    .await
    .map_err(ServiceError::conflict_on("a user with this email"))?;
    // Events name the user by id; the users row maps it to the address.
    let entry =
        Entry::success(AuditAction::UserCreate, "user", &id).details(json!({ "role": new.role }));
    let entry = entry.tenant_opt(tenant_id);
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    get(svc, actor, &id).await
}

#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn get(svc: &Services, actor: &Actor, id: &str) -> Result<User> {
    let row: Option<UserRow> = sqlx::query_as(&format!("{SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&svc.db.pool)
        .await?;
    let user = row.ok_or(ServiceError::NotFound("user"))?.into_user()?;
    match &user.tenant_id {
        // Callers that change the user rely on this check: manage rights.
        Some(t) => actor.require_on(t, Access::Manage, "user")?,
        None if actor.role.needs_tenant() => return Err(ServiceError::NotFound("user")),
        None => actor.require_platform_admin()?,
    }
    Ok(user)
}

/// Platform admins list everyone; tenant admins their own tenant's users.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(svc: &Services, actor: &Actor, page: PageRequest) -> Result<Page<User>> {
    let scope = actor.scope()?;
    if let Some(own) = scope {
        actor.require(own, Access::Manage)?;
    }
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR tenant_id = $1)")
            .bind(scope)
            .fetch_one(&svc.db.pool)
            .await?;
    let sql = format!(
        "{SELECT} WHERE ($1 IS NULL OR u.tenant_id = $1) ORDER BY u.email LIMIT $2 OFFSET $3"
    );
    let lead = [scope.map(TenantId::as_str)];
    let rows: Vec<UserRow> = paged::on_page(svc, &sql, &lead, &page).await?;
    let items = rows
        .into_iter()
        .map(UserRow::into_user)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::new(items, total, page))
}

/// Sets a new password and ends the user's sessions.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn reset_password(
    svc: &Services,
    actor: &Actor,
    id: &str,
    new_password: &str,
) -> Result<()> {
    let target = get(svc, actor, id).await?;
    user::password(new_password)?;
    let hash = password::hash(new_password).await?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2, password_changed_at = $2 \
         WHERE id = $3",
    )
    .bind(&hash)
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::UserResetPassword, "user", id);
    let entry = entry.tenant_opt(target.tenant_id.as_ref());
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Users oldest first, after a cursor (the admin API): every user for
/// platform readers, a tenant admin's own tenant's users otherwise.
pub async fn list_cursor(
    svc: &Services,
    actor: &Actor,
    page: &CursorRequest,
) -> Result<CursorPage<User>> {
    let scope = actor.scope()?;
    if let Some(own) = scope {
        actor.require(own, Access::Manage)?;
    }
    let sql = format!(
        "{SELECT} WHERE ($1 IS NULL OR u.tenant_id = $1) \
         AND (u.created_at > $2 OR (u.created_at = $2 AND u.id > $3)) \
         ORDER BY u.created_at, u.id LIMIT $4"
    );
    let scope = scope.map(TenantId::as_str);
    let rows: Vec<UserRow> = paged::after_cursor(svc, &sql, &[scope], page).await?;
    let users = rows
        .into_iter()
        .map(UserRow::into_user)
        .collect::<Result<Vec<_>>>()?;
    Ok(page.page(users, |u| (u.created_at, u.id.clone())))
}

/// Disabling signs the user out everywhere; nobody can disable themselves.
#[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
pub async fn set_disabled(svc: &Services, actor: &Actor, id: &str, disabled: bool) -> Result<User> {
    disable_or_enable(svc, actor, id, disabled, None).await
}

/// Disables or enables; a leaver's `left_at` is written in the same
/// transaction and named in the same audit event.
async fn disable_or_enable(
    svc: &Services,
    actor: &Actor,
    id: &str,
    disabled: bool,
    left_at: Option<i64>,
) -> Result<User> {
    let target = get(svc, actor, id).await?;
    if disabled && actor.user_id.as_deref() == Some(id) {
        return Err(Invalid::new("user", "you cannot disable your own account").into());
    }
    if !disabled {
        check_may_enable(svc, actor, id).await?;
    }
    let now = now_millis();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        // Disabling a disabled user keeps who disabled them first: a tenant
        // admin must not turn a platform admin's suspension into their own.
        "UPDATE users SET \
         disabled_by_role = CASE WHEN $1 IS NULL THEN NULL WHEN disabled_at IS NULL THEN $2 \
         ELSE disabled_by_role END, \
         disabled_at = CASE WHEN $1 IS NULL THEN NULL ELSE COALESCE(disabled_at, $1) END, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(disabled.then_some(now))
    .bind(disabled.then_some(actor.role.as_str()))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(at) = left_at {
        sqlx::query("UPDATE users SET left_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let action = if disabled {
        AuditAction::UserDisable
    } else {
        AuditAction::UserEnable
    };
    let entry = Entry::success(action, "user", id);
    let entry = entry.tenant_opt(target.tenant_id.as_ref());
    let entry = match left_at {
        Some(at) => entry.details(json!({ "left_at": at })),
        None => entry,
    };
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    get(svc, actor, id).await
}

/// The id of the user with this e-mail (any case), for the CLI.
pub async fn id_by_email(svc: &Services, email: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE LOWER(email) = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&svc.db.pool)
            .await?,
    )
}

/// Disables a user who left the organisation, recording when they left:
/// access evidence compares the two (on time within 24 hours).
pub async fn mark_leaver(svc: &Services, actor: &Actor, id: &str, left_at: i64) -> Result<User> {
    get(svc, actor, id).await?;
    if left_at > now_millis() + crate::domain::time::DAY {
        return Err(Invalid::new("left_at", "must not be in the future").into());
    }
    disable_or_enable(svc, actor, id, true, Some(left_at)).await
}

/// Deletes a user for good (their sessions, MFA and recovery codes go
/// with them). Audit events keep naming them as `user:<id>`, which now
/// maps to nobody.
pub async fn delete(svc: &Services, actor: &Actor, id: &str) -> Result<()> {
    let target = get(svc, actor, id).await?;
    if actor.user_id.as_deref() == Some(id) {
        return Err(Invalid::new("user", "you cannot delete your own account").into());
    }
    if target.role == Role::PlatformAdmin {
        actor.require_platform_admin()?;
    }
    let mut tx = svc.db.pool.begin().await?;
    for sql in [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM user_recovery_codes WHERE user_id = $1",
        "DELETE FROM users WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    let entry =
        Entry::success(AuditAction::UserDelete, "user", id).tenant_opt(target.tenant_id.as_ref());
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// A platform admin's suspension stands until a platform admin lifts it:
/// the tenant's own admins cannot undo it.
async fn check_may_enable(svc: &Services, actor: &Actor, id: &str) -> Result<()> {
    let by: Option<String> = sqlx::query_scalar("SELECT disabled_by_role FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&svc.db.pool)
        .await?;
    let by_platform = by.as_deref() == Some(Role::PlatformAdmin.as_str());
    if by_platform && actor.role != Role::PlatformAdmin {
        return Err(ServiceError::Conflict(
            "a platform admin disabled this user; only a platform admin can enable them".into(),
        ));
    }
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn platform_admin_exists(svc: &Services) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'platform_admin'")
        .fetch_one(&svc.db.pool)
        .await?;
    Ok(n > 0)
}

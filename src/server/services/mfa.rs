//! Multi-factor sign-in: TOTP (RFC 6238) enrolled by each user for
//! themselves, ten one-time recovery codes, a platform setting requiring
//! it per role, and a reset by an admin for a lost device. The secret is
//! sealed at rest like provider secrets; recovery codes are stored hashed.

use serde_json::json;

use super::audit::{self, Entry};
use super::{users, Actor, Result, ServiceError, Services};
use crate::domain::audit::AuditAction;
use crate::domain::role::Role;
use crate::domain::time::now_millis;
use crate::domain::validation::Invalid;
use crate::server::crypto::token::hash_token;
use crate::server::crypto::totp;

/// What a user scans to enrol: shown once, confirmed with a first code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enrolment {
    pub secret: String,
    pub uri: String,
}

fn own_id(actor: &Actor) -> Result<&str> {
    actor
        .user_id
        .as_deref()
        .ok_or_else(|| Invalid::new("user", "only a signed-in user enrols their own device").into())
}

/// The actor's own MFA: on, or an enrolment waiting for its first code.
pub struct Status {
    pub on: bool,
    pub pending_secret: Option<String>,
}

pub async fn status(svc: &Services, actor: &Actor) -> Result<Status> {
    let id = own_id(actor)?;
    let (sealed, enabled) = enrolment(svc, id).await?;
    let pending_secret = match (sealed, enabled) {
        (Some(s), None) => Some(svc.secrets.open(&s)?),
        _ => None,
    };
    Ok(Status {
        on: enabled.is_some(),
        pending_secret,
    })
}

/// Starts (or restarts) the actor's own enrolment; MFA is not on until a
/// code confirms it.
pub async fn start(svc: &Services, actor: &Actor) -> Result<Enrolment> {
    let id = own_id(actor)?;
    let (email, enabled): (String, Option<i64>) =
        sqlx::query_as("SELECT email, mfa_enabled_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&svc.db.pool)
            .await?;
    if enabled.is_some() {
        return Err(ServiceError::Conflict(
            "MFA is already on; an admin resets it for a new device".into(),
        ));
    }
    let secret = totp::new_secret();
    let sealed = svc.secrets.seal(&totp::base32(&secret))?;
    sqlx::query("UPDATE users SET mfa_secret = $1, mfa_last_step = NULL WHERE id = $2")
        .bind(&sealed)
        .bind(id)
        .execute(&svc.db.pool)
        .await?;
    Ok(Enrolment {
        secret: totp::base32(&secret),
        uri: totp::otpauth_uri(&secret, &email),
    })
}

/// Confirms the enrolment with a code; returns the recovery codes, shown once.
pub async fn confirm(svc: &Services, actor: &Actor, code: &str) -> Result<Vec<String>> {
    let id = own_id(actor)?;
    let (sealed, enabled) = enrolment(svc, id).await?;
    let (Some(sealed), None) = (sealed, enabled) else {
        return Err(Invalid::new("code", "start the enrolment first").into());
    };
    let secret = open(svc, &sealed)?;
    let now = now_millis();
    let step = totp::verify(&secret, code, (now / 1000) as u64, None)
        .ok_or_else(|| Invalid::new("code", "the code does not match; check the device's clock"))?;
    let codes = totp::recovery_codes();
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("UPDATE users SET mfa_enabled_at = $1, mfa_last_step = $2 WHERE id = $3")
        .bind(now)
        .bind(step as i64)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    forget_recovery_codes(&mut tx, id).await?;
    for c in &codes {
        sqlx::query("INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(id)
            .bind(hash_token(c))
            .execute(&mut *tx)
            .await?;
    }
    let entry =
        Entry::success(AuditAction::UserMfaEnable, "user", id).tenant_opt(actor.tenant_id.as_ref());
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(codes)
}

fn open(svc: &Services, sealed: &str) -> Result<Vec<u8>> {
    let b32 = svc.secrets.open(sealed)?;
    totp::from_base32(&b32)
        .ok_or_else(|| ServiceError::Internal("a stored MFA secret is unreadable".into()))
}

/// Turns a user's MFA off (a lost device): admins of the user's tenant or
/// platform admins. The user enrols again.
pub async fn reset(svc: &Services, actor: &Actor, user_id: &str) -> Result<()> {
    let target = users::get(svc, actor, user_id).await?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query(
        "UPDATE users SET mfa_secret = NULL, mfa_enabled_at = NULL, mfa_last_step = NULL \
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    forget_recovery_codes(&mut tx, user_id).await?;
    let entry = Entry::success(AuditAction::UserMfaReset, "user", user_id)
        .tenant_opt(target.tenant_id.as_ref());
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Requires MFA for a role, or stops requiring it (platform admins).
pub async fn require(svc: &Services, actor: &Actor, role: Role, required: bool) -> Result<()> {
    actor.require_platform_admin()?;
    // Enrolment needs a session: users of the role enrol first, or they
    // could never sign in again.
    let unenrolled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = $1 AND disabled_at IS NULL AND mfa_enabled_at IS NULL",
    )
    .bind(role.as_str())
    .fetch_one(&svc.db.pool)
    .await?;
    if required && unenrolled > 0 {
        return Err(ServiceError::Conflict(format!(
            "{unenrolled} enabled users of this role have not enrolled MFA: they enrol first"
        )));
    }
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("DELETE FROM mfa_requirements WHERE role = $1")
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    if required {
        sqlx::query("INSERT INTO mfa_requirements (role, updated_at) VALUES ($1, $2)")
            .bind(role.as_str())
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
    }
    let entry = Entry::success(AuditAction::MfaRequire, "role", role.as_str())
        .details(json!({ "required": required }));
    audit::record(svc, &mut tx, actor, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// The roles that must use MFA.
pub async fn required_roles(svc: &Services) -> Result<Vec<Role>> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT role FROM mfa_requirements ORDER BY role")
        .fetch_all(&svc.db.pool)
        .await?;
    rows.iter().map(|r| Ok(r.parse::<Role>()?)).collect()
}

/// The second factor at sign-in, after the password was right: a TOTP
/// code (each used once) or an unused recovery code. A user of a role
/// that requires MFA and has not enrolled cannot sign in.
pub async fn check_sign_in(svc: &Services, user_id: &str, role: Role, code: &str) -> Result<()> {
    let (sealed, enabled, last): (Option<String>, Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT mfa_secret, mfa_enabled_at, mfa_last_step FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&svc.db.pool)
            .await?;
    let (Some(sealed), Some(_)) = (sealed, enabled) else {
        if required_roles(svc).await?.contains(&role) {
            return Err(ServiceError::MfaRequired(
                "this role requires MFA: ask an admin to help you enrol".into(),
            ));
        }
        return Ok(());
    };
    if code.trim().is_empty() {
        return Err(ServiceError::MfaRequired(
            "enter the code from your authenticator".into(),
        ));
    }
    let secret = open(svc, &sealed)?;
    let now = (now_millis() / 1000) as u64;
    if let Some(step) = totp::verify(&secret, code, now, last.map(|l| l as u64)) {
        // Only a later step can be used next: no replay within the window.
        let moved = sqlx::query(
            "UPDATE users SET mfa_last_step = $1 WHERE id = $2 \
             AND (mfa_last_step IS NULL OR mfa_last_step < $1)",
        )
        .bind(step as i64)
        .bind(user_id)
        .execute(&svc.db.pool)
        .await?;
        if moved.rows_affected() == 1 {
            return Ok(());
        }
    }
    let used = sqlx::query(
        "UPDATE user_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 \
         AND used_at IS NULL",
    )
    .bind(now_millis())
    .bind(user_id)
    .bind(hash_token(code.trim()))
    .execute(&svc.db.pool)
    .await?;
    if used.rows_affected() == 1 {
        return Ok(());
    }
    Err(ServiceError::MfaRequired(
        "the code is wrong or already used".into(),
    ))
}

/// Old recovery codes stop working when MFA is enrolled again or reset.
async fn forget_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM user_recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The user's sealed secret (set once enrolment starts) and when MFA was
/// enabled (set once a code confirmed it).
async fn enrolment(svc: &Services, user_id: &str) -> Result<(Option<String>, Option<i64>)> {
    let row = sqlx::query_as("SELECT mfa_secret, mfa_enabled_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&svc.db.pool)
        .await?;
    Ok(row)
}

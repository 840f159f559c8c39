//! Server-side sessions. The cookie carries a random token; the database
//! keeps only its SHA-256, so a leaked table cannot be replayed.

use crate::domain::tenant::TenantId;
use serde_json::json;
use sqlx::FromRow;

use super::audit::{self, Entry};
use super::{sign_in_throttle, Actor, Result, ServiceError, Services};
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::domain::role::Role;
use crate::domain::time::{now_millis, HOUR};
use crate::domain::user::{attempted_email, Email};
use crate::server::crypto::password;
use crate::server::crypto::token::{hash_token, random_hex};

/// Verified against when the email is unknown, so both paths cost the same
/// and response times do not reveal which accounts exist.
static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn dummy_hash() -> Result<&'static str> {
    DUMMY_HASH
        .get_or_try_init(|| async { password::hash(&password::generate()).await })
        .await
        .map(String::as_str)
        .map_err(ServiceError::from)
}

pub struct SignedIn {
    pub token: String,
    pub actor: Actor,
    pub max_age_secs: i64,
}

#[derive(FromRow)]
struct Credentials {
    id: String,
    email: String,
    password_hash: String,
    role: String,
    tenant_id: Option<TenantId>,
    disabled_at: Option<i64>,
}

impl Credentials {
    fn actor(&self, client_ip: &str) -> Result<Actor> {
        Ok(Actor {
            user_id: Some(self.id.clone()),
            label: self.email.clone(),
            role: self.role.parse::<Role>()?,
            tenant_id: self.tenant_id.clone(),
            client_ip: Some(client_ip.to_string()),
        })
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_in(
    svc: &Services,
    email: &str,
    password_text: &str,
    code: &str,
    client_ip: &str,
) -> Result<SignedIn> {
    // Not an address: no account can match, but the attempt still counts.
    let email = Email::parse(email).map_or_else(|_| attempted_email(email), String::from);
    let attempt = Actor {
        client_ip: Some(client_ip.to_string()),
        ..Actor::system(&attempt_name(svc, &email))
    };
    let claim = sign_in_throttle::claim(svc, &attempt, &email, client_ip).await?;
    let creds: Option<Credentials> = sqlx::query_as(
        "SELECT id, email, password_hash, role, tenant_id, disabled_at FROM users WHERE email = $1",
    )
    .bind(&email)
    .fetch_optional(&svc.db.pool)
    .await?;
    let stored = match &creds {
        Some(c) => c.password_hash.as_str(),
        None => dummy_hash().await?,
    };
    let ok = password::verify(password_text, stored).await?;
    let creds = match creds {
        Some(c) if ok && c.disabled_at.is_none() => c,
        other => {
            let reason = match other {
                None => "unknown_email",
                Some(c) if c.disabled_at.is_some() => "disabled",
                Some(_) => "wrong_password",
            };
            record_failure(svc, &attempt, reason).await?;
            return Err(ServiceError::Unauthenticated);
        }
    };
    let actor = creds.actor(client_ip)?;
    // The claim stays taken on a wrong code: codes are throttled like passwords.
    if let Err(e) = super::mfa::check_sign_in(svc, &creds.id, actor.role, code).await {
        record_failure(svc, &attempt, "mfa").await?;
        return Err(e);
    }
    let token = random_hex(32);
    let now = now_millis();
    let lifetime = svc.config.session_hours.clamp(1, 24 * 30) * HOUR;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash_token(&token))
        .bind(&creds.id)
        .bind(now)
        .bind(now + lifetime)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&creds.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::success(AuditAction::AuthSignIn, "user", &creds.id);
    let entry = entry.tenant_opt(creds.tenant_id.as_ref());
    audit::record(svc, &mut tx, &actor, entry).await?;
    tx.commit().await?;
    sign_in_throttle::release(svc, &claim).await?;
    Ok(SignedIn {
        token,
        actor,
        max_age_secs: lifetime / 1000,
    })
}

/// How the audit trail names a sign-in attempt: a keyed hash of the typed
/// e-mail, so failed attempts at someone's address are evidence without
/// the address in clear (and an erased user's address stays erased).
pub fn attempt_name(svc: &Services, email: &str) -> String {
    let hash = svc
        .secrets
        .reports()
        .subject_hash("sign-in", &email.trim().to_lowercase());
    format!("attempt:{}", &hash[..32])
}

/// The failure itself was counted when the attempt was claimed; this only
/// records it in the audit trail.
async fn record_failure(svc: &Services, attempt: &Actor, reason: &str) -> Result<()> {
    let entry = Entry::success(AuditAction::AuthSignIn, "user", &attempt.label)
        .status(AuditStatus::Failure)
        .details(json!({ "reason": reason }));
    audit::append(svc, attempt, entry).await
}

/// The signed-in user behind a session token, if the session is live and
/// the user still enabled.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn actor_for_token(
    svc: &Services,
    token: &str,
    client_ip: &str,
) -> Result<Option<Actor>> {
    let creds: Option<Credentials> = sqlx::query_as(
        "SELECT u.id, u.email, u.password_hash, u.role, u.tenant_id, u.disabled_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(hash_token(token))
    .bind(now_millis())
    .fetch_optional(&svc.db.pool)
    .await?;
    match creds {
        Some(c) if c.disabled_at.is_none() => Ok(Some(c.actor(client_ip)?)),
        _ => Ok(None),
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_out(svc: &Services, token: &str, client_ip: &str) -> Result<()> {
    let Some(actor) = actor_for_token(svc, token, client_ip).await? else {
        return Ok(());
    };
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash_token(token))
        .execute(&mut *tx)
        .await?;
    let user_id = actor.user_id.clone().unwrap_or_default();
    audit::record(
        svc,
        &mut tx,
        &actor,
        Entry::success(AuditAction::AuthSignOut, "user", &user_id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

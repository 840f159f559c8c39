//! One-time flashes, kept server-side per session in the database, so a
//! form posted to one replica and followed on another still shows its
//! outcome. Sealed like other secrets (a new API key may ride in one),
//! keyed by a hash of the session token, deleted on first read; a flash
//! not collected within `TTL` is never shown and is swept later.

use std::sync::{Arc, Mutex};

use crate::domain::flash::Flash;
use crate::domain::time::{now_millis, SECOND};
use crate::server::crypto::token::hash_token;

use super::{Result, ServiceError, Services};

/// How long a flash waits for the page load that shows it.
const TTL: i64 = 120 * SECOND;

/// Keeps `flash` for the session holding `session_token`, replacing any
/// earlier one. One row per session at most, so the table is bounded by
/// the sessions; expired rows are swept as new ones arrive.
pub async fn put(svc: &Services, session_token: &str, flash: &Flash) -> Result<()> {
    let now = now_millis();
    let text =
        serde_json::to_string(flash).map_err(|e| ServiceError::Internal(format!("flash: {e}")))?;
    let sealed = svc.secrets.seal(&text)?;
    let mut tx = svc.db.pool.begin().await?;
    sqlx::query("DELETE FROM flashes WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO flashes (session_hash, sealed, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (session_hash) DO UPDATE SET sealed = excluded.sealed, \
         expires_at = excluded.expires_at",
    )
    .bind(hash_token(session_token))
    .bind(sealed)
    .bind(now + TTL)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The session's flash, once: the row is deleted as it is read, so two
/// replicas serving the same session at once cannot both show it.
pub async fn take(svc: &Services, session_token: &str) -> Result<Option<Flash>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("DELETE FROM flashes WHERE session_hash = $1 RETURNING sealed, expires_at")
            .bind(hash_token(session_token))
            .fetch_optional(&svc.db.pool)
            .await?;
    let Some((sealed, expires_at)) = row else {
        return Ok(None);
    };
    if expires_at < now_millis() {
        return Ok(None);
    }
    let text = svc.secrets.open(&sealed)?;
    let flash = serde_json::from_str(&text)
        .map_err(|e| ServiceError::Internal(format!("stored flash unreadable: {e}")))?;
    Ok(Some(flash))
}

/// A flash set while a request runs, stored once its response is made
/// (server functions that set one are synchronous; the store is not).
/// The HTTP layer puts one in each form post's extensions.
#[derive(Clone, Default)]
pub struct PendingFlash(Arc<Mutex<Option<Flash>>>);

impl PendingFlash {
    pub fn set(&self, flash: Flash) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(flash);
    }

    pub fn take(&self) -> Option<Flash> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

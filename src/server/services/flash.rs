//! One-time flashes, kept server-side per session: in memory only, so a
//! one-time secret (a new API key) never reaches the database or a cookie.
//! Bounded in count and age; a flash not collected within `TTL` is gone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::flash::Flash;
use crate::server::crypto::token::hash_token;

/// How long a flash waits for the page load that shows it.
const TTL: Duration = Duration::from_secs(120);
/// Sessions with a pending flash at once; the oldest go first beyond this.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct FlashStore {
    pending: Mutex<HashMap<String, (Instant, Flash)>>,
}

impl FlashStore {
    /// Keeps `flash` for the session holding `session_token`, replacing any
    /// earlier one.
    pub fn put(&self, session_token: &str, flash: Flash) {
        let Ok(mut pending) = self.pending.lock() else {
            tracing::warn!("flash store unavailable; a form outcome is not kept");
            return;
        };
        let now = Instant::now();
        pending.retain(|_, (at, _)| now.duration_since(*at) < TTL);
        if pending.len() >= CAPACITY {
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(hash_token(session_token), (now, flash));
    }

    /// The session's flash, once.
    pub fn take(&self, session_token: &str) -> Option<Flash> {
        let mut pending = self.pending.lock().ok()?;
        let (at, flash) = pending.remove(&hash_token(session_token))?;
        (at.elapsed() < TTL).then_some(flash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_is_shown_once_to_its_own_session() {
        let store = FlashStore::default();
        store.put("session-a", Flash::success("done").with_secret("atr_x"));
        assert_eq!(store.take("session-b"), None);
        let flash = store.take("session-a").expect("flash");
        assert_eq!(flash.secret.as_deref(), Some("atr_x"));
        assert_eq!(store.take("session-a"), None);
    }

    #[test]
    fn a_newer_flash_replaces_an_older_one() {
        let store = FlashStore::default();
        store.put("s", Flash::error("first"));
        store.put("s", Flash::error("second"));
        assert_eq!(store.take("s").map(|f| f.message), Some("second".into()));
    }
}

//! The spool's syncer: group commit of its appends to disk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::{Spool, SYNC_EVERY_EVENTS};

/// What the syncer waits on, apart from the spool, so a dropped spool
/// ends its syncer instead of being kept alive by it.
pub(super) struct SyncState {
    /// `SYNC_WINDOW`, but in tests.
    pub(super) window: Duration,
    pub(super) unsynced: AtomicUsize,
    pub(super) wake: Notify,
    /// Syncs done, for the tests of the window.
    pub(super) syncs: AtomicUsize,
}

/// Group commit: the first append after a sync starts a window of
/// `SYNC_WINDOW` (cut short by the 256th append); then each file appended
/// to is synced once for all of them.
pub(super) async fn syncer(spool: std::sync::Weak<Spool>, state: Arc<SyncState>) {
    loop {
        if state.unsynced.load(Ordering::Relaxed) == 0 {
            state.wake.notified().await;
        }
        window(&spool, &state).await;
        let Some(s) = spool.upgrade() else { return };
        if state.unsynced.swap(0, Ordering::Relaxed) == 0 {
            continue;
        }
        let dirty = s.take_dirty();
        drop(s);
        let sync = move || dirty.iter().try_for_each(|f| f.sync_data());
        match tokio::task::spawn_blocking(sync).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "spool sync failed; events are in the page cache only")
            }
            Err(e) => tracing::error!(error = %e, "spool sync task failed"),
        }
        state.syncs.fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits out the window. A wake-up ends it only when it means something:
/// `Notify` keeps the wake of an append made during the last sync (the
/// first of its window) as a permit, and taking that permit as "256
/// appends" synced back to back, a blocking-pool round trip per request
/// or two at low load, instead of once per window.
async fn window(spool: &std::sync::Weak<Spool>, state: &SyncState) {
    let until = tokio::time::Instant::now() + state.window;
    loop {
        if state.unsynced.load(Ordering::Relaxed) >= SYNC_EVERY_EVENTS || spool.strong_count() == 0
        {
            return;
        }
        if tokio::time::timeout_at(until, state.wake.notified())
            .await
            .is_err()
        {
            return;
        }
    }
}

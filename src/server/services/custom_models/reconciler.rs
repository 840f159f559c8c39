//! The reconciler's pass (run by `server::jobs` on every tick or when
//! woken): retires deprecated versions whose grace has run out and passes
//! over every pool so engines hold what is deployed.

use super::{on_engines, reconcile, retirement};
use crate::server::services::{Result, Services};

/// One pass: retires lapsed versions and reconciles every pool.
pub async fn tick(svc: &Services) -> Result<()> {
    let versions = on_engines(svc).await?;
    retirement::retire_lapsed(svc, &versions).await?;
    reconcile::pass(svc, None).await
}

/// On a replica not running the reconciler: the engines as the one that
/// runs it last saw them.
pub async fn follow(svc: &Services) -> Result<()> {
    svc.pools.load(svc).await
}

/// Writes this replica's adapter use times (each replica has its own).
pub async fn flush_use_times(svc: &Services) -> Result<()> {
    svc.pools.flush(svc).await
}

/// Waits up to `period`, or until a change asks for a pass sooner.
pub async fn wait(svc: &Services, period: std::time::Duration) {
    let _ = tokio::time::timeout(period, svc.pools.kick.notified()).await;
}

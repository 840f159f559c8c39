//! The background reconciler: on every tick (or when woken), it writes
//! adapters' use times, retires deprecated versions whose grace has run
//! out, and passes over every pool so engines hold what is deployed.

use std::time::Duration;

use super::{on_engines, reconcile, retirement};
use crate::server::services::jobs::{self, Job};
use crate::server::services::{Result, Services};

pub fn spawn(svc: Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = svc.pools.flush(&svc).await {
                tracing::warn!(error = ?e, "writing adapter use times failed; retrying");
            }
            let every = Duration::from_millis(svc.config.reconcile_ms.max(100));
            let mine = jobs::my_turn(&svc, Job::CustomModelReconciler, every).await;
            if let Err(e) = jobs::run_if(mine, tick(&svc)).await {
                tracing::warn!(error = ?e, "custom model reconcile failed; retrying");
            }
            let _ = tokio::time::timeout(every, svc.pools.kick.notified()).await;
        }
    })
}

async fn tick(svc: &Services) -> Result<()> {
    let versions = on_engines(svc).await?;
    retirement::retire_lapsed(svc, &versions).await?;
    reconcile::pass(svc, None).await
}

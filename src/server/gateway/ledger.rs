//! The usage ledger: `usage_event`s queued behind the response and written
//! in batches to each tenant's store (see `batch` for the queue's promises).

use std::time::Duration;

use futures::future::BoxFuture;

use super::batch::{BatchQueue, Sink, Tuning};
use crate::domain::usage::UsageEvent;
use crate::server::services::usage;
use crate::server::services::Services;

pub type Ledger = BatchQueue<UsageEvent>;

struct LedgerSink(Services);

impl Sink<UsageEvent> for LedgerSink {
    /// Inserts are idempotent on request id, so a retried batch is safe.
    fn write<'a>(&'a self, batch: &'a [UsageEvent]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            usage::insert_batch(&self.0, batch)
                .await
                .map_err(|e| format!("{e:?}"))
        })
    }
}

pub fn start(svc: Services, capacity: usize) -> Ledger {
    let tuning = Tuning {
        capacity,
        batch: 500,
        linger: Duration::from_millis(20),
        name: "usage ledger",
    };
    BatchQueue::start(tuning, LedgerSink(svc))
}

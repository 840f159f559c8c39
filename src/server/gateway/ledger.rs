//! The usage ledger: `usage_event`s queued behind the response and written
//! in batches to each tenant's store (see `batch` for the queue's promises).

use std::time::Duration;

use futures::future::BoxFuture;

use super::batch::{BatchQueue, Sink, Tuning, WriteError};
use crate::domain::usage::UsageEvent;
use crate::server::services::Services;
use crate::server::services::{dead_letters, usage};

pub type Ledger = BatchQueue<UsageEvent>;

struct LedgerSink(Services);

impl Sink<UsageEvent> for LedgerSink {
    /// Inserts are idempotent on request id, so a retried batch is safe.
    fn write<'a>(&'a self, batch: &'a [UsageEvent]) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move { Ok(usage::insert_batch(&self.0, batch).await?) })
    }

    fn dead_letter<'a>(
        &'a self,
        item: &'a UsageEvent,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), WriteError>> {
        // A dead letter keeps what bills, never the request log's text: it
        // is not erased with the log, and the log entry is not replayed.
        let bare = UsageEvent {
            log: None,
            ..item.clone()
        };
        Box::pin(async move { Ok(dead_letters::record(&self.0, QUEUE, &bare, error).await?) })
    }
}

const QUEUE: &str = "usage ledger";

pub fn start(svc: Services, capacity: usize) -> Ledger {
    let tuning = Tuning {
        capacity,
        batch: 500,
        linger: Duration::from_millis(20),
        name: QUEUE,
    };
    BatchQueue::start(tuning, LedgerSink(svc))
}

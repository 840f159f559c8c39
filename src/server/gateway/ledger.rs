//! The usage ledger: `usage_event`s queued behind the response and written
//! in batches to each tenant's store (see `batch` for the queue's
//! promises). Each event is first appended to the local `spool`, before
//! the response is released, so a killed process loses none: the next
//! start replays what the database had not stored.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::batch::{BatchQueue, Sink, Tuning, WriteError};
use super::spool::{Line, Mark, Spool};
use crate::domain::usage::UsageEvent;
use crate::server::services::Services;
use crate::server::services::{dead_letters, usage};

/// An event and where it is spooled (nowhere if the spool failed).
pub struct Spooled {
    event: UsageEvent,
    mark: Option<Mark>,
}

pub struct Ledger {
    queue: BatchQueue<Spooled>,
    spool: Option<Arc<Spool>>,
    /// `ATRIUM_LEDGER_SYNC`: `push` returns once the event is stored.
    sync: bool,
}

struct LedgerSink {
    svc: Services,
    spool: Option<Arc<Spool>>,
}

impl LedgerSink {
    /// Tells the spool which of its events are now in the database.
    fn drained(&self, items: &[Spooled]) {
        if let Some(spool) = &self.spool {
            spool.stored_all(items.iter().filter_map(|i| i.mark));
        }
    }
}

impl Sink<Spooled> for LedgerSink {
    /// Inserts are idempotent on request id, so a retried batch is safe.
    fn write<'a>(&'a self, batch: &'a [Spooled]) -> BoxFuture<'a, Result<(), WriteError>> {
        Box::pin(async move {
            let events: Vec<UsageEvent> = batch.iter().map(|s| s.event.clone()).collect();
            usage::insert_batch(&self.svc, &events).await?;
            self.drained(batch);
            Ok(())
        })
    }

    fn dead_letter<'a>(
        &'a self,
        item: &'a Spooled,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), WriteError>> {
        // A dead letter keeps what bills, never the request log's text: it
        // is not erased with the log, and the log entry is not replayed.
        let bare = UsageEvent {
            log: None,
            ..item.event.clone()
        };
        Box::pin(async move {
            dead_letters::record(&self.svc, QUEUE, &bare, error).await?;
            self.drained(std::slice::from_ref(item));
            Ok(())
        })
    }
}

const QUEUE: &str = "usage ledger";

/// Starts the ledger and its spool in the data directory; returns what a
/// previous process left there, for `replay`.
pub fn start(svc: Services, capacity: usize) -> std::io::Result<(Ledger, Vec<Line>)> {
    let tuning = Tuning {
        capacity,
        batch: 500,
        linger: Duration::from_millis(20),
        name: QUEUE,
    };
    let dir = svc.config.data_dir.join("spool");
    let (spool, leftovers) = Spool::open(&dir, "ledger")?;
    if leftovers.unreadable > 0 {
        tracing::warn!(
            lines = leftovers.unreadable,
            "spool lines cut short by a crash were not events"
        );
    }
    let sync = svc.config.ledger_sync;
    let sink = LedgerSink {
        svc,
        spool: Some(spool.clone()),
    };
    let ledger = Ledger {
        queue: BatchQueue::start(tuning, sink),
        spool: Some(spool),
        sync,
    };
    Ok((ledger, leftovers.lines))
}

impl Ledger {
    /// Records an event: spooled at once, stored behind the response,
    /// waiting for room in the queue if it is full.
    pub async fn push(&self, event: UsageEvent) {
        if self.sync {
            return self.store_now(event).await;
        }
        // Cancelled while waiting (the client hung up), the event is queued
        // detached: it is spooled, and a spooled event is stored or its
        // file never goes.
        self.queue.push_or_detach(self.spooled(event)).await;
    }

    /// Synchronous group commit: the event joins the writer's next batch
    /// and the caller waits until that batch is committed, so the response
    /// leaves only once its usage is in the database. Concurrent requests
    /// share a commit. Not spooled: the database is the durable copy.
    async fn store_now(&self, event: UsageEvent) {
        self.queue
            .push_or_detach(Spooled { event, mark: None })
            .await;
        self.queue.flush().await;
    }

    /// As `push`, for places that cannot wait (a dropped stream).
    pub fn push_detached(&self, event: UsageEvent) {
        let item = self.spooled(event);
        self.queue.push_detached(item);
    }

    /// Returns once everything queued before the call is stored.
    pub async fn flush(&self) {
        self.queue.flush().await;
    }

    pub fn depth(&self) -> usize {
        self.queue.depth()
    }

    /// At a clean stop, once flushed: the spool's drained files go.
    pub fn close(&self) {
        if let Some(spool) = &self.spool {
            spool.close();
        }
    }

    /// Events spooled and not yet stored.
    pub fn spooled_pending(&self) -> u64 {
        self.spool.as_ref().map_or(0, |s| s.pending())
    }

    /// The event as a spool line: what bills, never the request log's text
    /// (the spool is a plain file), so a replayed event has no log entry.
    fn spooled(&self, mut event: UsageEvent) -> Spooled {
        let Some(spool) = &self.spool else {
            return Spooled { event, mark: None };
        };
        let log = event.log.take();
        let appended = spool.append_json(&event);
        event.log = log;
        let mark = match appended {
            Ok(mark) => Some(mark),
            Err(e) => {
                metrics::counter!("atrium_spool_errors_total").increment(1);
                tracing::error!(error = %e, request_id = %event.request_id, "usage event not spooled; it is only queued");
                None
            }
        };
        Spooled { event, mark }
    }

    /// Queues what a previous process spooled and the database may not
    /// have stored; storing it twice counts it once (idempotent inserts).
    pub async fn replay(&self, lines: Vec<Line>) {
        if lines.is_empty() {
            return;
        }
        tracing::info!(events = lines.len(), "replaying the ledger spool");
        for (mark, line) in lines {
            match serde_json::from_slice::<UsageEvent>(&line) {
                Ok(event) => {
                    self.queue
                        .push(Spooled {
                            event,
                            mark: Some(mark),
                        })
                        .await
                }
                Err(e) => {
                    tracing::error!(error = %e, "a spooled usage event is unreadable; skipped");
                    if let Some(spool) = &self.spool {
                        spool.stored(mark, 1);
                    }
                }
            }
        }
    }
}

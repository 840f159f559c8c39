//! The usage ledger writer: a bounded queue (callers wait when it is full,
//! nothing is dropped), batched inserts, retries until the database takes
//! them, and a flush that shutdown waits for.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::domain::usage::UsageEvent;
use crate::server::services::usage;
use crate::server::services::Services;

const BATCH: usize = 500;
/// How long a batch waits for company: fewer, larger transactions under load
/// for at most this much delay in the ledger (never in a response).
const LINGER: Duration = Duration::from_millis(20);

enum Msg {
    Event(Box<UsageEvent>),
    Flush(oneshot::Sender<()>),
}

pub struct Ledger {
    tx: mpsc::Sender<Msg>,
    capacity: usize,
}

impl Ledger {
    pub fn start(svc: Services, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        tokio::spawn(worker(svc, rx));
        Self { tx, capacity }
    }

    /// Queues an event, waiting for room when the queue is full.
    pub async fn record(&self, event: UsageEvent) {
        if self.tx.send(Msg::Event(Box::new(event))).await.is_err() {
            tracing::error!("usage ledger stopped; event not recorded");
        }
        metrics::gauge!("atrium_ledger_queue_depth").set(self.depth() as f64);
    }

    /// For places that cannot wait (a dropped stream): queue now, or hand the
    /// wait to a task.
    pub fn record_detached(&self, event: UsageEvent) {
        match self.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(msg).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("usage ledger stopped; event not recorded");
            }
        }
    }

    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Returns once everything queued before the call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn worker(svc: Services, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<UsageEvent> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut waiting);
        // Gather more (up to a batch, for at most LINGER) before writing; a
        // flush request cuts the wait short.
        let until = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH && waiting.is_empty() {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(msg)) => take(msg, &mut batch, &mut waiting),
                _ => break,
            }
        }
        write(&svc, &mut batch).await;
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
    }
    write(&svc, &mut batch).await;
}

fn take(msg: Msg, batch: &mut Vec<UsageEvent>, waiting: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Event(e) => batch.push(*e),
        Msg::Flush(done) => waiting.push(done),
    }
}

/// Retries with backoff until the batch is stored: events are never dropped.
/// Idempotent inserts make a retried batch safe.
async fn write(svc: &Services, batch: &mut Vec<UsageEvent>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    loop {
        match usage::insert_batch(svc, batch).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = ?e, events = batch.len(), "usage ledger write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    batch.clear();
}

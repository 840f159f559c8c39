//! A write-behind queue: bounded (callers wait when it is full, nothing is
//! dropped), written in batches that wait briefly for company, retried
//! until the database takes them, and flushed on demand (shutdown waits).
//! The usage ledger and the policy audit trail are both one of these.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, Notify};

/// Why a write failed, and whether trying again may help.
#[derive(Debug)]
pub struct WriteError {
    pub message: String,
    pub transient: bool,
}

impl From<crate::server::services::ServiceError> for WriteError {
    fn from(e: crate::server::services::ServiceError) -> Self {
        WriteError {
            transient: e.is_transient(),
            message: format!("{e:?}"),
        }
    }
}

/// Where a queue's batches go. Writes must be idempotent or all-or-nothing,
/// because a failed batch (or half of one) is written again.
pub trait Sink<T>: Send + Sync + 'static {
    fn write<'a>(&'a self, batch: &'a [T]) -> BoxFuture<'a, Result<(), WriteError>>;
    /// Keeps one item the database refuses for good, with the error.
    fn dead_letter<'a>(
        &'a self,
        item: &'a T,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), WriteError>>;
}

pub struct Tuning {
    pub capacity: usize,
    pub batch: usize,
    /// How long a batch waits for company: fewer, larger transactions under
    /// load, for at most this much delay behind the response.
    pub linger: Duration,
    pub name: &'static str,
}

enum Msg<T> {
    Item(Box<T>),
    Flush(oneshot::Sender<()>),
}

/// An item waiting for room in a queue; dropped mid-wait, it is queued
/// detached.
struct Waiting<'a, T: Send + Sync + 'static> {
    queue: &'a BatchQueue<T>,
    item: Option<T>,
}

impl<T: Send + Sync + 'static> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.queue.push_detached(item);
        }
    }
}

/// Cuts a batch's wait for company short: a flush, or a batch's worth
/// gathered.
#[derive(Default)]
struct Urgent {
    notify: Notify,
    /// Items the waiting batch already holds (the rest are queued).
    gathered: AtomicUsize,
}

pub struct BatchQueue<T> {
    tx: mpsc::Sender<Msg<T>>,
    capacity: usize,
    batch: usize,
    urgent: Arc<Urgent>,
    name: &'static str,
}

impl<T: Send + Sync + 'static> BatchQueue<T> {
    pub fn start(tuning: Tuning, sink: impl Sink<T>) -> Self {
        let capacity = tuning.capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let name = tuning.name;
        let batch = tuning.batch.max(1);
        let urgent = Arc::new(Urgent::default());
        tokio::spawn(worker(tuning, sink, rx, urgent.clone()));
        Self {
            tx,
            capacity,
            batch,
            urgent,
            name,
        }
    }

    /// A batch's worth is waiting: the writer need not wait for more.
    fn queued(&self) {
        let gathered = self.urgent.gathered.load(Ordering::Relaxed);
        if self.depth().saturating_add(gathered) >= self.batch {
            self.urgent.notify.notify_one();
        }
    }

    /// Queues an item, waiting for room when the queue is full.
    pub async fn push(&self, item: T) {
        if self.tx.send(Msg::Item(Box::new(item))).await.is_err() {
            tracing::error!(queue = self.name, "writer stopped; item not recorded");
        }
        self.queued();
    }

    /// Queues an item, waiting for room. A caller cancelled while it waits
    /// (a client that hung up) does not lose the item: it is queued
    /// detached (see `push_detached`).
    pub async fn push_or_detach(&self, item: T) {
        let mut waiting = Waiting {
            queue: self,
            item: Some(item),
        };
        let Ok(permit) = self.tx.reserve().await else {
            waiting.item = None;
            tracing::error!(queue = self.name, "writer stopped; item not recorded");
            return;
        };
        if let Some(item) = waiting.item.take() {
            permit.send(Msg::Item(Box::new(item)));
        }
        self.queued();
    }

    /// For places that cannot wait (a dropped stream, a finished response):
    /// queue now, or hand the wait to a task.
    pub fn push_detached(&self, item: T) {
        match self.tx.try_send(Msg::Item(Box::new(item))) {
            Ok(()) => self.queued(),
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(msg).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!(queue = self.name, "writer stopped; item not recorded");
            }
        }
    }

    /// Queues an item and returns once it is stored (or dead-lettered):
    /// for a record that must exist before the caller goes on.
    pub async fn push_and_wait(&self, item: T) {
        self.push(item).await;
        self.flush().await;
    }

    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Returns once everything queued before the call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            self.urgent.notify.notify_one();
            let _ = wait.await;
        }
    }
}

async fn worker<T: Sync>(
    tuning: Tuning,
    sink: impl Sink<T>,
    mut rx: mpsc::Receiver<Msg<T>>,
    urgent: Arc<Urgent>,
) {
    let mut batch: Vec<T> = Vec::with_capacity(tuning.batch);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut waiting);
        let until = tokio::time::Instant::now() + tuning.linger;
        queued(&mut rx, tuning.batch, &mut batch, &mut waiting);
        // Wait for company asleep, not woken by each item: the writer's
        // runtime idles while shards serve (`net::shards`), and a wake per
        // request cost a thread wake-up each. A flush or a full batch
        // cuts the wait short.
        if batch.len() < tuning.batch && waiting.is_empty() {
            urgent.gathered.store(batch.len(), Ordering::Relaxed);
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = urgent.notify.notified() => {}
            }
            urgent.gathered.store(0, Ordering::Relaxed);
            queued(&mut rx, tuning.batch, &mut batch, &mut waiting);
        }
        write(&sink, tuning.name, &mut batch).await;
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
    }
    write(&sink, tuning.name, &mut batch).await;
}

/// What is already queued joins this write: callers waiting on a flush
/// share one commit (group commit) instead of one each.
fn queued<T>(
    rx: &mut mpsc::Receiver<Msg<T>>,
    max: usize,
    batch: &mut Vec<T>,
    waiting: &mut Vec<oneshot::Sender<()>>,
) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(msg) => take(msg, batch, waiting),
            Err(_) => break,
        }
    }
}

fn take<T>(msg: Msg<T>, batch: &mut Vec<T>, waiting: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Item(item) => batch.push(*item),
        Msg::Flush(done) => waiting.push(done),
    }
}

/// Stores the batch: nothing is dropped, and one bad item cannot hold up
/// the rest.
async fn write<T: Sync>(sink: &impl Sink<T>, name: &str, batch: &mut Vec<T>) {
    if !batch.is_empty() {
        store(sink, name, batch).await;
    }
    batch.clear();
}

/// Retries transient failures with backoff. On a permanent failure the
/// items are split in halves and each half stored the same way, so every
/// good item is stored and each refused one becomes a dead letter: at
/// most 2·log2(n) extra writes per bad item.
fn store<'a, T: Sync>(sink: &'a impl Sink<T>, name: &'a str, items: &'a [T]) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let mut delay = Duration::from_millis(50);
        loop {
            let e = match sink.write(items).await {
                Ok(()) => return,
                Err(e) => e,
            };
            if e.transient {
                tracing::error!(queue = name, error = %e.message, items = items.len(), "write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
            if let [item] = items {
                return dead_letter(sink, name, item, &e.message).await;
            }
            let (a, b) = items.split_at(items.len() / 2);
            store(sink, name, a).await;
            store(sink, name, b).await;
            return;
        }
    })
}

async fn dead_letter<T: Sync>(sink: &impl Sink<T>, name: &str, item: &T, error: &str) {
    tracing::error!(queue = name, error = %error, "the database refused an item; kept as a dead letter");
    let mut delay = Duration::from_millis(50);
    while let Err(e) = sink.dead_letter(item, error).await {
        tracing::error!(queue = name, error = %e.message, "storing a dead letter failed; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests;

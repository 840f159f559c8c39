//! A write-behind queue: bounded (callers wait when it is full, nothing is
//! dropped), written in batches that wait briefly for company, retried
//! until the database takes them, and flushed on demand (shutdown waits).
//! The usage ledger and the policy audit trail are both one of these.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

/// Where a queue's batches go. Writes must be idempotent or all-or-nothing,
/// because a failed batch is written again whole.
pub trait Sink<T>: Send + Sync + 'static {
    fn write<'a>(&'a self, batch: &'a [T]) -> BoxFuture<'a, Result<(), String>>;
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

pub struct BatchQueue<T> {
    tx: mpsc::Sender<Msg<T>>,
    capacity: usize,
    name: &'static str,
}

impl<T: Send + 'static> BatchQueue<T> {
    pub fn start(tuning: Tuning, sink: impl Sink<T>) -> Self {
        let capacity = tuning.capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let name = tuning.name;
        tokio::spawn(worker(tuning, sink, rx));
        Self { tx, capacity, name }
    }

    /// Queues an item, waiting for room when the queue is full.
    pub async fn push(&self, item: T) {
        if self.tx.send(Msg::Item(Box::new(item))).await.is_err() {
            tracing::error!(queue = self.name, "writer stopped; item not recorded");
        }
    }

    /// For places that cannot wait (a dropped stream, a finished response):
    /// queue now, or hand the wait to a task.
    pub fn push_detached(&self, item: T) {
        match self.tx.try_send(Msg::Item(Box::new(item))) {
            Ok(()) => {}
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

    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Returns once everything queued before the call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn worker<T>(tuning: Tuning, sink: impl Sink<T>, mut rx: mpsc::Receiver<Msg<T>>) {
    let mut batch: Vec<T> = Vec::with_capacity(tuning.batch);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut waiting);
        // A flush request cuts the wait short.
        let until = tokio::time::Instant::now() + tuning.linger;
        while batch.len() < tuning.batch && waiting.is_empty() {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(msg)) => take(msg, &mut batch, &mut waiting),
                _ => break,
            }
        }
        write(&sink, tuning.name, &mut batch).await;
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
    }
    write(&sink, tuning.name, &mut batch).await;
}

fn take<T>(msg: Msg<T>, batch: &mut Vec<T>, waiting: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Item(item) => batch.push(*item),
        Msg::Flush(done) => waiting.push(done),
    }
}

/// Retries with backoff until the batch is stored: nothing is dropped.
async fn write<T>(sink: &impl Sink<T>, name: &str, batch: &mut Vec<T>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    while let Err(e) = sink.write(batch).await {
        tracing::error!(queue = name, error = %e, items = batch.len(), "write failed; retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    batch.clear();
}

//! A write-behind queue: bounded (callers wait when it is full, nothing is
//! dropped), written in batches that wait briefly for company, retried
//! until the database takes them, and flushed on demand (shutdown waits).
//! The usage ledger and the policy audit trail are both one of these.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

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

pub struct BatchQueue<T> {
    tx: mpsc::Sender<Msg<T>>,
    capacity: usize,
    name: &'static str,
}

impl<T: Send + Sync + 'static> BatchQueue<T> {
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
            let _ = wait.await;
        }
    }
}

async fn worker<T: Sync>(tuning: Tuning, sink: impl Sink<T>, mut rx: mpsc::Receiver<Msg<T>>) {
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
        // What is already queued joins this write: callers waiting on a
        // flush share one commit (group commit) instead of one each.
        while batch.len() < tuning.batch {
            match rx.try_recv() {
                Ok(msg) => take(msg, &mut batch, &mut waiting),
                Err(_) => break,
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
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Refuses any batch holding a negative number, for good; counts writes.
    #[derive(Default)]
    struct Picky {
        stored: Mutex<Vec<i64>>,
        dead: Mutex<Vec<i64>>,
        writes: Mutex<usize>,
    }

    impl Sink<i64> for std::sync::Arc<Picky> {
        fn write<'a>(&'a self, batch: &'a [i64]) -> BoxFuture<'a, Result<(), WriteError>> {
            Box::pin(async move {
                *self.writes.lock().unwrap() += 1;
                if batch.iter().any(|n| *n < 0) {
                    return Err(WriteError {
                        message: "negative".into(),
                        transient: false,
                    });
                }
                self.stored.lock().unwrap().extend_from_slice(batch);
                Ok(())
            })
        }
        fn dead_letter<'a>(
            &'a self,
            item: &'a i64,
            _: &'a str,
        ) -> BoxFuture<'a, Result<(), WriteError>> {
            Box::pin(async move {
                self.dead.lock().unwrap().push(*item);
                Ok(())
            })
        }
    }

    /// Stores nothing until the test opens its gate: a database that
    /// fell behind.
    struct Gated {
        gate: std::sync::Arc<tokio::sync::Semaphore>,
        stored: std::sync::Arc<Mutex<Vec<i64>>>,
    }

    impl Sink<i64> for Gated {
        fn write<'a>(&'a self, batch: &'a [i64]) -> BoxFuture<'a, Result<(), WriteError>> {
            Box::pin(async move {
                if let Ok(permit) = self.gate.acquire().await {
                    permit.forget();
                }
                self.stored.lock().unwrap().extend_from_slice(batch);
                Ok(())
            })
        }
        fn dead_letter<'a>(
            &'a self,
            _: &'a i64,
            _: &'a str,
        ) -> BoxFuture<'a, Result<(), WriteError>> {
            Box::pin(async { Ok(()) })
        }
    }

    /// A writer that falls behind holds back its callers instead of an
    /// ever longer backlog in memory, and a caller cancelled while it
    /// waits still gets its item stored.
    #[tokio::test]
    async fn a_full_queue_makes_callers_wait_and_a_cancelled_wait_loses_nothing() {
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let stored = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = Gated {
            gate: gate.clone(),
            stored: stored.clone(),
        };
        let tuning = Tuning {
            capacity: 4,
            batch: 1,
            linger: Duration::from_millis(1),
            name: "t",
        };
        let q = BatchQueue::start(tuning, sink);
        let wait = Duration::from_millis(100);
        let mut accepted = 0i64;
        while tokio::time::timeout(wait, q.push_or_detach(accepted))
            .await
            .is_ok()
        {
            accepted += 1;
            assert!(accepted <= 6, "the queue holds 4, the writer 1 or 2");
        }
        // The push that timed out was cancelled mid-wait: it is detached.
        assert!(accepted >= 4, "{accepted} pushed before the queue filled");
        assert_eq!(q.depth(), 4, "the queue is full, not longer");
        assert!(stored.lock().unwrap().is_empty(), "nothing written yet");
        // The detached push's task takes its place in line before the flush.
        tokio::time::sleep(Duration::from_millis(10)).await;
        gate.add_permits(1_000);
        q.flush().await;
        let mut got = stored.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(
            got,
            (0..=accepted).collect::<Vec<_>>(),
            "the cancelled push too"
        );
    }

    #[tokio::test]
    async fn a_poisoned_batch_stores_every_good_item_and_dead_letters_the_bad() {
        let sink = std::sync::Arc::new(Picky::default());
        let tuning = Tuning {
            capacity: 1_000,
            batch: 500,
            linger: Duration::from_millis(5),
            name: "t",
        };
        let q = BatchQueue::start(tuning, sink.clone());
        for n in 0..1_000i64 {
            q.push(if n == 321 || n == 800 { -n } else { n }).await;
        }
        q.flush().await;
        let mut stored = sink.stored.lock().unwrap().clone();
        stored.sort_unstable();
        assert_eq!(stored.len(), 998);
        assert!(stored.iter().all(|n| *n >= 0));
        assert_eq!(*sink.dead.lock().unwrap(), vec![-321, -800]);
        assert!(
            *sink.writes.lock().unwrap() < 60,
            "splitting is logarithmic"
        );
    }
}

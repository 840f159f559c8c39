//! The write-behind queue against sinks that refuse or fall behind.

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
    fn dead_letter<'a>(&'a self, _: &'a i64, _: &'a str) -> BoxFuture<'a, Result<(), WriteError>> {
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

fn lingering(batch: usize) -> Tuning {
    Tuning {
        capacity: 1_000,
        batch,
        linger: Duration::from_secs(30),
        name: "t",
    }
}

/// Polls until the sink holds `n` items, for at most a second.
async fn stored_soon(sink: &std::sync::Arc<Picky>, n: usize) -> bool {
    for _ in 0..100 {
        if sink.stored.lock().unwrap().len() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// The wait for company is asleep, but a flush does not wait it out.
#[tokio::test]
async fn a_flush_cuts_the_wait_for_company_short() {
    let sink = std::sync::Arc::new(Picky::default());
    let q = BatchQueue::start(lingering(100), sink.clone());
    q.push(7).await;
    tokio::time::timeout(Duration::from_secs(1), q.flush())
        .await
        .expect("flushed without the 30 s linger");
    assert_eq!(*sink.stored.lock().unwrap(), vec![7]);
}

/// A batch's worth queued is written at once; what comes during a wait
/// shares one write.
#[tokio::test]
async fn a_full_batch_goes_at_once_and_a_partial_one_in_one_write() {
    let sink = std::sync::Arc::new(Picky::default());
    let q = BatchQueue::start(lingering(4), sink.clone());
    for n in 0..3 {
        q.push(n).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(sink.stored.lock().unwrap().is_empty(), "written early");
    q.push(3).await;
    assert!(stored_soon(&sink, 4).await, "a full batch waited");
    assert_eq!(*sink.writes.lock().unwrap(), 1, "one write for the four");
}

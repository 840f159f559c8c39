//! The provider's answer, read in batches: each read takes the events
//! that have arrived behind the first, so events that came together leave
//! in one write.
//!
//! hyper's HTTP/1 client hands a body over one chunk at a time (a chunk is
//! one SSE event from most providers), from the connection's own task, and
//! decodes the next only once the last was taken. A relay woken for each
//! chunk sent one event per `writev`: at 32 streams, 1.06 writes per event
//! and more than half of the gateway's CPU in the kernel. The pump task
//! this replaces was meant to read ahead, but it was woken the same way
//! and a probe after it never found a second chunk (measured: 0 of 1.4M).
//!
//! So the relay gathers: it takes a chunk that is already there (an HTTP/2
//! connection's task queues them ahead), else puts itself behind the tasks
//! in its thread's queue, among them the connection's task that taking the
//! last chunk woke, and takes what that task decoded meanwhile. The next
//! chunk is there after the second such turn: of 2.88M chunks gathered at
//! 32 streams (HTTP/1), 528 came after the first turn, 2,876,605 after the
//! second and 82 after a third or fourth. Two turns that bring nothing end
//! the batch, and so do [`BATCH_CHUNKS`], [`BATCH_BYTES`] and
//! [`BATCH_TIME`]. On the multi-threaded runtime another worker may take
//! the relay's task before the connection's has run: that batch just ends
//! early. Measured side by side at 32 streams: 0.06 writes per event
//! instead of 1.06, and 2.7 µs of CPU per event instead of 9.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use axum::body::Bytes;
use futures::{FutureExt, Stream, StreamExt};
use tokio::time::Instant;

/// What one batch takes (it may pass this by one chunk): the events of
/// one write.
const BATCH_BYTES: usize = 256 << 10;

/// Chunks one batch takes at most, and the longest its first events wait
/// for the rest: a provider sending small chunks without end must not hold
/// back what was already read.
const BATCH_CHUNKS: usize = 64;
const BATCH_TIME: Duration = Duration::from_millis(1);

/// Turns of the run queue one chunk is waited for (see above).
const TURNS: usize = 2;

/// One chunk of the provider's byte stream.
pub type Chunk = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub type Upstream = Pin<Box<dyn Stream<Item = Chunk> + Send>>;

/// Puts the running task at the back of its thread's run queue: a task
/// that wakes itself during its poll is queued there (tokio's LIFO slot is
/// for tasks woken by another). `yield_now` instead defers the task until
/// its worker runs out of work; the old pump's probe after it never found
/// a second chunk, so that moment came before the connection's task had
/// decoded one.
async fn requeue() {
    let mut queued = false;
    poll_fn(|cx| {
        if queued {
            return Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Whether a batch of `chunks` chunks and `bytes` bytes, begun at
/// `started`, takes more.
pub(super) fn room(chunks: usize, bytes: usize, started: Instant) -> bool {
    chunks < BATCH_CHUNKS && bytes < BATCH_BYTES && started.elapsed() < BATCH_TIME
}

/// The provider's body, fused: `None` once it has ended.
pub(super) struct Source(Option<Upstream>);

impl Source {
    pub(super) fn new(body: Upstream) -> Self {
        Source(Some(body))
    }

    /// The next chunk, as it comes.
    pub(super) async fn next(&mut self) -> Option<Chunk> {
        let next = self.0.as_mut()?.next().await;
        self.end_if(next.is_none());
        next
    }

    /// The next chunk if it is there, or if the connection's task decodes
    /// it within [`TURNS`] turns of the run queue; `Some(None)`: the stream
    /// ended. Dropped while waiting, it has taken nothing.
    pub(super) async fn next_soon(&mut self) -> Option<Option<Chunk>> {
        for turn in 0..=TURNS {
            if turn > 0 {
                requeue().await;
            }
            let body = self.0.as_mut()?;
            if let Some(next) = body.next().now_or_never() {
                self.end_if(next.is_none());
                return Some(next);
            }
        }
        None
    }

    fn end_if(&mut self, ended: bool) {
        if ended {
            self.0 = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::net::provider::ProviderClient;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A provider that answers with `events` chunks of one SSE event each,
    /// written at once; `end` closes the chunked body after them, else
    /// the answer stays open and silent.
    async fn provider(events: usize, end: bool) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            // The request fits one read.
            let _ = conn.read(&mut buf).await;
            let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for i in 0..events {
                let frame = format!("data: {{\"n\":{i}}}\n\n");
                out.extend(format!("{:X}\r\n{frame}\r\n", frame.len()).into_bytes());
            }
            if end {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            let _ = conn.write_all(&out).await;
            // Open until the client goes.
            let _ = conn.read(&mut buf).await;
        });
        port
    }

    async fn source(port: u16) -> Source {
        let client = ProviderClient::new(&[]).expect("client");
        let uri = format!("http://127.0.0.1:{port}/v1").parse().expect("uri");
        let res = client
            .post_json(uri, [], Bytes::from_static(b"{}"))
            .await
            .expect("answered");
        Source::new(Box::pin(res.into_body().into_data_stream()))
    }

    /// Chunks gathered in a row, and whether the end came among them.
    async fn batch(source: &mut Source) -> (usize, bool) {
        let (mut n, started) = (0, Instant::now());
        while room(n, 0, started) {
            match source.next_soon().await {
                Some(Some(chunk)) => {
                    chunk.expect("a chunk");
                    n += 1;
                }
                Some(None) => return (n, true),
                None => break,
            }
        }
        (n, false)
    }

    /// What arrived together is taken together, in a few batches (each
    /// at most `BATCH_CHUNKS`; one per chunk before the gather); the end is
    /// seen, and the source stays ended.
    #[tokio::test]
    async fn a_burst_is_gathered_in_batches() {
        let mut source = source(provider(100, true).await).await;
        source.next().await.expect("first").expect("a chunk");
        let (mut sizes, mut ended) = (Vec::new(), false);
        while !ended && sizes.len() < 99 {
            let (n, end) = batch(&mut source).await;
            assert!(n <= BATCH_CHUNKS);
            sizes.push(n);
            ended = end;
        }
        assert!(ended, "the end is seen: {sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 99, "{sizes:?}");
        // Two batches unless the machine stalled the test for a millisecond.
        assert!(sizes.len() <= 10, "{sizes:?}");
        assert!(source.next().await.is_none(), "fused");
        assert!(source.next_soon().await.is_none());
    }

    /// A provider that has sent nothing more is not waited for.
    #[tokio::test]
    async fn a_silent_provider_ends_the_batch() {
        let mut source = source(provider(1, false).await).await;
        source.next().await.expect("first").expect("a chunk");
        let waited = tokio::time::timeout(std::time::Duration::from_secs(5), batch(&mut source));
        assert_eq!(waited.await.expect("not waited for"), (0, false));
    }
}

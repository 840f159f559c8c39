//! The provider's answer read ahead: after a stream's first events, a
//! task of its own takes the body's chunks as they are decoded and queues
//! them, and each read takes every chunk queued (up to a batch).

use std::pin::Pin;

use axum::body::Bytes;
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;

/// Chunks the pump queues ahead of the relay: bounds what one stream
/// buffers (each chunk is at most one read of hyper's buffer).
const AHEAD: usize = 64;

/// What one read takes from the queue at most (it may pass this by one
/// chunk): the events of one write.
const BATCH_BYTES: usize = 256 << 10;

/// One chunk of the provider's byte stream.
pub type Chunk = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub type Upstream = Pin<Box<dyn Stream<Item = Chunk> + Send>>;

/// Reads `upstream` ahead, in a task of its own, into a queue of
/// [`AHEAD`] chunks.
///
/// hyper's client hands a body over one chunk at a time, from the
/// connection's task, and decodes the next only once the last was taken.
/// Read straight from it, a stream got one event per wake-up and sent one
/// event per `writev`: at 32 streams, 1.2 writes per event, half of the
/// gateway's CPU in sending. The pump keeps taking chunks while the relay
/// is busy, so the relay finds every event that has arrived and sends them
/// in one write. It stops when the body ends or fails, or once nobody
/// reads the queue (a client gone and its drain over), even while the
/// provider is silent.
fn pump(mut upstream: Upstream) -> Upstream {
    let (tx, mut rx) = mpsc::channel::<Chunk>(AHEAD);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                biased;
                () = tx.closed() => return,
                next = upstream.next() => next,
            };
            let Some(chunk) = next else { return };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Where a stream's chunks come from: straight from the provider's body
/// until its first events have gone (the pump's task would add a hop,
/// often to the other worker, before the first byte), then the pump.
pub(super) enum Source {
    Direct(Upstream),
    Pumped(Upstream),
}

impl Source {
    pub(super) async fn next(&mut self) -> Option<Vec<Chunk>> {
        match self {
            Source::Direct(body) => body.next().await.map(|chunk| vec![chunk]),
            Source::Pumped(queue) => {
                let first = queue.next().await?;
                Some(queued(queue, first))
            }
        }
    }

    /// The chunks already here, without waiting.
    pub(super) fn ready(&mut self) -> Option<Vec<Chunk>> {
        self.next().now_or_never().flatten()
    }

    pub(super) fn pumped(self) -> Self {
        match self {
            Source::Direct(body) => Source::Pumped(pump(body)),
            pumped => pumped,
        }
    }
}

/// `first` and whatever else is queued, up to [`BATCH_BYTES`]; a failed
/// chunk is the last (the pump sends nothing after it).
fn queued(queue: &mut Upstream, first: Chunk) -> Vec<Chunk> {
    let mut bytes = first.as_ref().map_or(BATCH_BYTES, Bytes::len);
    let mut chunks = vec![first];
    while bytes < BATCH_BYTES {
        let Some(Some(chunk)) = queue.next().now_or_never() else {
            break;
        };
        bytes = bytes.saturating_add(chunk.as_ref().map_or(BATCH_BYTES, Bytes::len));
        chunks.push(chunk);
    }
    chunks
}

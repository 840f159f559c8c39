//! What a streamed answer reads and accounts, apart from what it sends: the
//! provider's byte stream, the SSE parser, the translator that observes
//! usage, and the request's `Settlement`.
//!
//! A client that hangs up before the end must not make the answer free:
//! OpenAI-kind providers (vLLM pools too) report usage only in the last
//! chunk, and the provider bills what it generated. So when the stream is
//! dropped early, the relay moves into a task of its own that reads the
//! provider's answer to its end (each event within the provider's timeout,
//! all of it within `DRAIN_LIMIT`), keeping the budget hold until then,
//! and settles at the usage the provider reported. A provider that reports
//! none is charged what was delivered: the frames that left, and never less
//! than the input estimate (`Settlement::delivered`).
//!
//! Each read takes the chunks that arrived behind the first (see
//! [`super::gather`]), so events that came together leave together.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::settle::Settlement;
use super::sse::{SseEvent, SseParser};
use super::translate::stream::StreamTranslator;
use crate::domain::completion::ErrorKind;

/// The longest a relay keeps reading for a client that has left.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

use super::gather::{self, Source};
pub use super::gather::{Chunk, Upstream};

/// How often a stream whose provider is not ahead is probed.
const PROBE_EVERY: u32 = 8;

/// How one read from the provider ended.
pub enum Read {
    Events(Vec<SseEvent>),
    Ended,
    Failed(ErrorKind),
}

pub struct Reading {
    /// The provider's body.
    upstream: Source,
    /// How the provider's stream failed after the events already read.
    failed: Option<ErrorKind>,
    /// Reads so far, and whether the last gather found more events (see
    /// `read`).
    reads: u32,
    /// Events read and not yet handed out: kept here across the turns
    /// `read` gathers for, so a client that leaves then loses none (the
    /// drain accounts them).
    held: Vec<SseEvent>,
    ahead: bool,
    parser: SseParser,
    pub translator: Box<dyn StreamTranslator>,
    idle: Duration,
    /// One timer for the whole stream. A timeout per read put a timer into
    /// tokio's wheel and took it out again for every event; this one is
    /// moved only when it fires before the current read's deadline.
    timer: Pin<Box<Sleep>>,
    /// Frames that reached the client so far.
    delivered: i64,
    pub settle: Settlement,
}

impl Reading {
    pub fn new(
        upstream: Upstream,
        translator: Box<dyn StreamTranslator>,
        idle: Duration,
        settle: Settlement,
    ) -> Self {
        Self {
            upstream: Source::new(upstream),
            failed: None,
            reads: 0,
            held: Vec::new(),
            ahead: false,
            parser: SseParser::default(),
            translator,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            delivered: 0,
            settle,
        }
    }

    /// The next events from the provider, within the idle timeout. When
    /// the provider is ahead of the relay (a busy gateway), the events that
    /// arrive behind the first are gathered (see [`super::gather`]) and
    /// leave in the same write. A stream paced by its provider is only
    /// probed, every [`PROBE_EVERY`] reads (never its first: time to first
    /// byte), so its events are not held for a turn they gain nothing from.
    pub async fn read(&mut self) -> Read {
        if self.held.is_empty() {
            match self.read_within(self.idle).await {
                Read::Events(events) => self.held = events,
                other => return other,
            }
            self.reads = self.reads.wrapping_add(1);
            if self.ahead || self.reads.is_multiple_of(PROBE_EVERY) {
                self.more().await;
            }
        }
        Read::Events(std::mem::take(&mut self.held))
    }

    /// Adds the events that arrived behind those just read, each chunk's
    /// as it comes (a client that leaves meanwhile loses none of them).
    async fn more(&mut self) {
        let (mut chunks, mut bytes, started) = (0usize, 0usize, Instant::now());
        self.ahead = false;
        while gather::room(chunks, bytes, started) && self.failed.is_none() {
            let Some(Some(chunk)) = self.upstream.next_soon().await else {
                // Nothing more yet, or the end, which the next read sees.
                break;
            };
            self.ahead = true;
            chunks += 1;
            bytes = bytes.saturating_add(chunk.as_ref().map_or(0, |b| b.len()));
            let events = self.events(chunk);
            self.held.extend(events);
        }
    }

    async fn read_within(&mut self, wait: Duration) -> Read {
        if let Some(kind) = self.failed.take() {
            return Read::Failed(kind);
        }
        let deadline = Instant::now() + wait;
        if self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
        loop {
            tokio::select! {
                biased;
                next = self.upstream.next() => return self.parse(next),
                () = &mut self.timer => {
                    if Instant::now() >= deadline {
                        return Read::Failed(ErrorKind::Timeout);
                    }
                    // Set by an earlier read: this one has time left.
                    self.timer.as_mut().reset(deadline);
                }
            }
        }
    }

    /// The events in the chunk read. A chunk that failed (or overflowed
    /// the parser) fails the stream after the events before it.
    fn parse(&mut self, next: Option<Chunk>) -> Read {
        let Some(chunk) = next else {
            return Read::Ended;
        };
        let events = self.events(chunk);
        match self.failed.take() {
            Some(kind) if events.is_empty() => Read::Failed(kind),
            failed => {
                self.failed = failed;
                Read::Events(events)
            }
        }
    }

    /// One chunk's events; a failed chunk, or one past the parser's limit,
    /// has none and marks the stream failed.
    fn events(&mut self, chunk: Chunk) -> Vec<SseEvent> {
        let Ok(bytes) = chunk else {
            self.failed = Some(ErrorKind::Upstream);
            return Vec::new();
        };
        let parsed = self.parser.push(&bytes);
        if self.parser.overflowed() {
            tracing::warn!("a provider's stream sent an event past the size limit");
            self.failed = Some(ErrorKind::Upstream);
            return Vec::new();
        }
        parsed
    }

    /// What is left in the parser once the provider has ended.
    pub fn last_event(&mut self) -> Option<SseEvent> {
        self.parser.finish()
    }

    /// Counts frames as they leave for the client.
    pub fn sent(&mut self, frames: usize) {
        self.delivered = self.delivered.saturating_add(frames as i64);
        self.observe();
    }

    /// Passes what is known so far to the settlement.
    pub fn observe(&mut self) {
        self.settle.used(self.translator.usage());
        self.settle.delivered(self.delivered);
    }

    /// Reads the rest of an answer nobody is reading any more, for its
    /// usage, then settles it as closed by the client.
    async fn drain(mut self) {
        for ev in std::mem::take(&mut self.held) {
            self.translator.on_event(&ev);
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(self.idle.min(left)).await {
                Read::Events(events) => {
                    for ev in events {
                        self.translator.on_event(&ev);
                    }
                }
                Read::Ended | Read::Failed(_) => break,
            }
        }
        if let Some(ev) = self.parser.finish() {
            self.translator.on_event(&ev);
        }
        self.observe();
        self.settle.finish(499, Some(ErrorKind::ClientClosed)).await;
    }
}

/// Owns a `Reading` while its stream is read; dropped before `finish`
/// took it back (the client hung up), it hands the reading to a task that
/// drains the provider's answer.
pub struct Relay(Option<Reading>);

impl Relay {
    pub fn new(reading: Reading) -> Self {
        Self(Some(reading))
    }

    pub fn get(&mut self) -> Option<&mut Reading> {
        self.0.as_mut()
    }

    /// The reading back, at the stream's natural end.
    pub fn finish(&mut self) -> Option<Reading> {
        self.0.take()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let Some(mut reading) = self.0.take() else {
            return;
        };
        reading.observe();
        // Outside a runtime (never on the serving path) the settlement's
        // own drop still records what is known.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(reading.drain());
        }
    }
}

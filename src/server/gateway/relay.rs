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
//! The provider's body is read ahead by a pump (see [`super::pump`]), and each
//! read takes every chunk that has arrived, so events that came together
//! leave together.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::settle::Settlement;
use super::sse::{SseEvent, SseParser};
use super::translate::stream::StreamTranslator;
use crate::domain::completion::ErrorKind;

/// The longest a relay keeps reading for a client that has left.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

use super::pump::Source;
pub use super::pump::{Chunk, Upstream};

/// How often a stream whose provider is not ahead is probed.
const PROBE_EVERY: u32 = 8;

/// How one read from the provider ended.
pub enum Read {
    Events(Vec<SseEvent>),
    Ended,
    Failed(ErrorKind),
}

pub struct Reading {
    /// Every chunk that has arrived, at once.
    upstream: Option<Source>,
    /// How the provider's stream failed after the events already read.
    failed: Option<ErrorKind>,
    /// Reads so far, and whether the last turn given to the pump found
    /// more events (see `read`).
    reads: u32,
    /// Events read and not yet handed out: kept here across the turn
    /// `read` gives the pump, so a client that leaves then loses none (the
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
            upstream: Some(Source::Direct(upstream)),
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
    /// the provider is ahead of the relay (a busy gateway), the tasks that
    /// read it ahead get a turn first, and the events they bring leave in
    /// the same write. A stream paced by its provider is only probed, every
    /// [`PROBE_EVERY`] reads (never its first: time to first byte), so
    /// its events are not held for a turn they gain nothing from.
    pub async fn read(&mut self) -> Read {
        if self.held.is_empty() {
            match self.read_within(self.idle).await {
                Read::Events(events) => self.held = events,
                other => return other,
            }
            self.reads = self.reads.wrapping_add(1);
            if self.reads == 1 {
                self.upstream = self.upstream.take().map(Source::pumped);
            }
            if self.ahead || self.reads.is_multiple_of(PROBE_EVERY) {
                tokio::task::yield_now().await;
                self.more();
            }
        }
        Read::Events(std::mem::take(&mut self.held))
    }

    /// Adds what the pump brought during its turn to the held events.
    fn more(&mut self) {
        let chunks = self.upstream.as_mut().and_then(Source::ready);
        self.ahead = chunks.is_some();
        match self.parse(chunks) {
            Read::Events(more) => self.held.extend(more),
            Read::Failed(kind) => self.failed = Some(kind),
            Read::Ended => {}
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
                next = Self::next(&mut self.upstream) => return self.parse(next),
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

    async fn next(upstream: &mut Option<Source>) -> Option<Vec<Chunk>> {
        match upstream {
            Some(source) => source.next().await,
            None => None,
        }
    }

    /// The events in the chunks read. A chunk that failed (or overflowed
    /// the parser) fails the stream after the events before it.
    fn parse(&mut self, next: Option<Vec<Chunk>>) -> Read {
        let Some(chunks) = next else {
            return Read::Ended;
        };
        let mut events = Vec::new();
        for chunk in chunks {
            let Ok(bytes) = chunk else {
                self.failed = Some(ErrorKind::Upstream);
                break;
            };
            let parsed = self.parser.push(&bytes);
            if self.parser.overflowed() {
                tracing::warn!("a provider's stream sent an event past the size limit");
                self.failed = Some(ErrorKind::Upstream);
                break;
            }
            events.extend(parsed);
        }
        match self.failed.take() {
            Some(kind) if events.is_empty() => Read::Failed(kind),
            failed => {
                self.failed = failed;
                Read::Events(events)
            }
        }
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

//! A streamed answer: the provider's server-sent events, translated to the
//! client's dialect as they arrive, with an idle timeout per event. The
//! `Settlement` travels with the stream in a `Relay`, so a client that
//! hangs up mid-stream is still accounted: the relay reads the provider's
//! answer to its end for the usage it reports, and settles it as 499.
//! Under response rules a [`StreamGuard`] redacts the text as it passes,
//! or ends the stream with the dialect's error event when a rule blocks.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::answer::{deprecation_headers, finish_headers, Called};
use super::dialect::Dialect;
use http_body_util::BodyExt;

use super::relay::{Read, Reading, Relay, Upstream};
use super::settle::Settlement;
use super::sse::encode;
use super::stream_guard::{Blocked, StreamGuard};
use super::translate::stream::{
    AnthropicPassthrough, AnthropicToOpenAi, OpenAiPassthrough, OpenAiToAnthropic, StreamTranslator,
};
use super::{govern, Gateway};
use crate::domain::completion::ErrorKind;
use crate::domain::flag::Capability;
use crate::domain::policy::Direction;

/// The frames to send: as they are, or through the guard.
fn guarded(guard: &mut Option<StreamGuard>, frames: Vec<String>) -> Result<Vec<String>, Blocked> {
    match guard {
        Some(g) => g.frames(frames),
        None => Ok(frames),
    }
}

/// Adds `frame` to what one write sends (the first without a copy).
fn append(batch: &mut Vec<u8>, frame: String) {
    if batch.is_empty() {
        *batch = frame.into_bytes();
    } else {
        batch.extend_from_slice(frame.as_bytes());
    }
}

fn translator(
    client: Dialect,
    provider: Dialect,
    model: &str,
    include_usage: bool,
) -> Box<dyn StreamTranslator> {
    match (client, provider) {
        (Dialect::Anthropic, Dialect::Anthropic) => Box::new(AnthropicPassthrough::default()),
        (Dialect::OpenAi, Dialect::OpenAi) => Box::new(OpenAiPassthrough::new(include_usage)),
        (Dialect::Anthropic, Dialect::OpenAi) => Box::new(OpenAiToAnthropic::new(model)),
        (Dialect::OpenAi, Dialect::Anthropic) => {
            Box::new(AnthropicToOpenAi::new(model, include_usage))
        }
    }
}

pub async fn respond(gw: &Gateway, settle: Settlement, called: Called) -> Response {
    let dialect = settle.dialect();
    let provider = Dialect::of(called.answer.provider().kind);
    let translator = translator(
        dialect,
        provider,
        settle.model(),
        called.request.include_usage,
    );
    let idle = called.answer.timeout();
    let request_id = settle.request_id().to_string();
    let tenant_id = called.auth.tenant.id.clone();
    let rules = govern::response_rules(gw, &called.auth, Capability::GovernanceStreamScanning);
    let rules = match rules {
        Ok(r) => r,
        Err(e) => return settle.refuse(e).await,
    };
    let mut guard = rules.map(|r| StreamGuard::new(dialect, r));
    let gw = gw.clone();
    let audit_request_id = request_id.clone();
    let upstream: Upstream = Box::pin(called.answer.response.into_body().into_data_stream());
    let mut relay = Relay::new(Reading::new(upstream, translator, idle, settle));
    let body = async_stream::stream! {
        let Some(r) = relay.get() else { return };
        let mut failure: Option<ErrorKind> = None;
        let mut blocked = false;
        'read: loop {
            match r.read().await {
                Read::Events(events) => {
                    // One write for every event read together.
                    let mut batch = Vec::new();
                    let mut events = events.into_iter();
                    for ev in events.by_ref() {
                        match guarded(&mut guard, r.translator.on_event(&ev)) {
                            Ok(frames) => {
                                r.sent(frames.len());
                                for frame in frames {
                                    r.settle.log_response(&frame);
                                    append(&mut batch, frame);
                                }
                            }
                            Err(Blocked) => { blocked = true; break; }
                        }
                    }
                    if !batch.is_empty() {
                        yield Ok::<Bytes, Infallible>(Bytes::from(batch));
                    }
                    if blocked {
                        // What came with the blocked event is still read for
                        // usage (a provider's last event reports it), not sent.
                        for ev in events {
                            r.translator.on_event(&ev);
                        }
                        break 'read;
                    }
                    r.observe();
                }
                Read::Ended => break,
                Read::Failed(kind) => { failure = Some(kind); break; }
            }
        }
        let mut tail = Vec::new();
        if let Some(ev) = r.last_event().filter(|_| !blocked) {
            tail = r.translator.on_event(&ev);
        }
        let failure = failure.or((!blocked && !r.translator.completed()).then_some(ErrorKind::Upstream));
        if failure.is_none() && !blocked {
            tail.extend(r.translator.finish());
        }
        match guarded(&mut guard, tail) {
            Ok(frames) => {
                r.sent(frames.len());
                for frame in frames {
                    r.settle.log_response(&frame);
                    yield Ok(Bytes::from(frame));
                }
            }
            Err(Blocked) => blocked = true,
        }
        if let Some(g) = &guard {
            govern::record(&gw, govern::event(&tenant_id, &audit_request_id, &g.overall, Direction::Response)).await;
        }
        let ending = if blocked {
            Some((ErrorKind::Permission, "the rest of the response was blocked by the tenant's data policy"))
        } else {
            failure.map(|kind| (kind, "the upstream stream ended early"))
        };
        if let Some((kind, message)) = ending {
            let err = dialect.error_body(kind, message);
            let event = (dialect == Dialect::Anthropic).then_some("error");
            yield Ok(Bytes::from(encode(event, &err.to_string())));
        }
        let status = if blocked { 403 } else if failure.is_some() { 502 } else { 200 };
        r.observe();
        // Taken back before the last await: nothing is left to drain.
        if let Some(reading) = relay.finish() {
            reading.settle.finish(status, failure.or(blocked.then_some(ErrorKind::Permission))).await;
        }
    };
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    finish_headers(&mut res, dialect, &called.rate, &request_id);
    deprecation_headers(&mut res, called.deprecation);
    res
}

//! A streamed answer: the provider's server-sent events, translated to the
//! client's dialect as they arrive, with an idle timeout per event. The
//! `Settlement` travels with the stream, so a client that hangs up
//! mid-stream is still accounted (dropped with the stream, as 499).
//! Under response rules a [`StreamGuard`] redacts the text as it passes,
//! or ends the stream with the dialect's error event when a rule blocks.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;

use super::dialect::Dialect;
use super::handler::{finish_headers, Called};
use super::settle::Settlement;
use super::sse::{encode, SseParser};
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

pub async fn respond(gw: &Gateway, mut settle: Settlement, called: Called) -> Response {
    let dialect = settle.dialect();
    let provider = Dialect::of(called.answer.provider().kind);
    let mut translator = translator(
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
    let mut upstream = called.answer.response.bytes_stream();
    let body = async_stream::stream! {
        let mut parser = SseParser::default();
        let mut failure: Option<ErrorKind> = None;
        let mut blocked = false;
        'read: loop {
            match tokio::time::timeout(idle, upstream.next()).await {
                Ok(Some(Ok(bytes))) => {
                    for ev in parser.push(&bytes) {
                        match guarded(&mut guard, translator.on_event(&ev)) {
                            Ok(frames) => for frame in frames {
                                yield Ok::<Bytes, Infallible>(Bytes::from(frame));
                            },
                            Err(Blocked) => { blocked = true; break 'read; }
                        }
                    }
                    settle.used(translator.usage());
                }
                Ok(Some(Err(_))) => { failure = Some(ErrorKind::Upstream); break; }
                Ok(None) => break,
                Err(_) => { failure = Some(ErrorKind::Timeout); break; }
            }
        }
        let mut tail = Vec::new();
        if let Some(ev) = parser.finish().filter(|_| !blocked) {
            tail = translator.on_event(&ev);
        }
        settle.used(translator.usage());
        let failure = failure.or((!blocked && !translator.completed()).then_some(ErrorKind::Upstream));
        if failure.is_none() && !blocked {
            tail.extend(translator.finish());
        }
        match guarded(&mut guard, tail) {
            Ok(frames) => for frame in frames {
                yield Ok(Bytes::from(frame));
            },
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
        settle.finish(status, failure.or(blocked.then_some(ErrorKind::Permission))).await;
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
    super::handler::deprecation_headers(&mut res, called.deprecation);
    res
}

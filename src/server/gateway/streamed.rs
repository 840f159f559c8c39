//! A streamed answer: the provider's server-sent events, translated to the
//! client's dialect as they arrive, with an idle timeout per event. The
//! `Settlement` travels with the stream, so a client that hangs up
//! mid-stream is still accounted (dropped with the stream, as 499).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;

use super::dialect::Dialect;
use super::handler::{finish_headers, Called};
use super::settle::Settlement;
use super::sse::{encode, SseParser};
use super::translate::stream::{
    AnthropicPassthrough, AnthropicToOpenAi, OpenAiPassthrough, OpenAiToAnthropic, StreamTranslator,
};
use crate::domain::completion::ErrorKind;

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

pub fn respond(mut settle: Settlement, called: Called) -> Response {
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
    let mut upstream = called.answer.response.bytes_stream();
    let body = async_stream::stream! {
        let mut parser = SseParser::default();
        let mut failure: Option<ErrorKind> = None;
        loop {
            match tokio::time::timeout(idle, upstream.next()).await {
                Ok(Some(Ok(bytes))) => {
                    for ev in parser.push(&bytes) {
                        for frame in translator.on_event(&ev) {
                            yield Ok::<Bytes, Infallible>(Bytes::from(frame));
                        }
                    }
                    settle.used(translator.usage());
                }
                Ok(Some(Err(_))) => { failure = Some(ErrorKind::Upstream); break; }
                Ok(None) => break,
                Err(_) => { failure = Some(ErrorKind::Timeout); break; }
            }
        }
        if let Some(ev) = parser.finish() {
            for frame in translator.on_event(&ev) {
                yield Ok(Bytes::from(frame));
            }
        }
        settle.used(translator.usage());
        let failure = failure.or((!translator.completed()).then_some(ErrorKind::Upstream));
        match failure {
            None => {
                for frame in translator.finish() {
                    yield Ok(Bytes::from(frame));
                }
            }
            Some(kind) => {
                let err = dialect.error_body(kind, "the upstream stream ended early");
                let event = (dialect == Dialect::Anthropic).then_some("error");
                yield Ok(Bytes::from(encode(event, &err.to_string())));
            }
        }
        let status = if failure.is_some() { 502 } else { 200 };
        settle.finish(status, failure).await;
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
    res
}

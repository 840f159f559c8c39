//! Providers that answer and then stall, on both backends: the request is
//! given up when the provider's timeout ends (counted from the call), never
//! left waiting on a body that does not come. A 5xx whose error body stalls
//! is retried and then refused; a 200 whose body stalls is a 504. A
//! stream is given up when one event takes longer than the timeout, never
//! because the whole stream does. A stream that arrives in one burst (read
//! ahead and sent in batches) reaches the client whole and in order, and a
//! break after it ends with the dialect's error event.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atrium::domain::catalog::ProviderKind;
use atrium::domain::pricing::Price;
use atrium::server::services::catalog::{self, Credential, NewModel, NewProvider};
use atrium::server::services::Actor;
use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::json;

use crate::abuse_exposure::serve;
use crate::common::TestApp;
use crate::gateway::post;
use crate::governance::setup;

on_both_backends!(
    a_provider_that_stalls_after_its_status_is_given_up,
    a_stream_times_out_per_event_not_in_total,
    a_burst_arrives_whole_and_in_order_and_a_break_after_it_is_an_error
);

const TIMEOUT_MS: i64 = 600;

/// A provider that sends `status` and headers, then nothing more.
async fn stalling(status: StatusCode) -> SocketAddr {
    let router = axum::Router::new().fallback(move || async move {
        let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
        let headers = [("content-type", "application/json")];
        (status, headers, axum::body::Body::from_stream(never))
    });
    serve(router).await
}

async fn model_on(app: &TestApp, name: &str, addr: SocketAddr) {
    let base = format!("http://{addr}");
    model_at(app, name, ProviderKind::Anthropic, base, TIMEOUT_MS).await;
}

/// A provider of `kind` at `base_url` and a model of the same name on it.
pub(crate) async fn model_at(
    app: &TestApp,
    name: &str,
    kind: ProviderKind,
    base_url: String,
    timeout_ms: i64,
) {
    let admin = Actor::system("test");
    let p = NewProvider {
        name: name.into(),
        kind,
        base_url,
        region: "any".into(),
        timeout_ms,
        credential: Credential::Stored("sk-test".into()),
    };
    catalog::add_provider(&app.svc, &admin, p)
        .await
        .expect("provider");
    let m = NewModel {
        name: name.into(),
        provider: name.into(),
        upstream_model: None,
        price: Price::default(),
        priority: 0,
    };
    catalog::add_model(&app.svc, &admin, m)
        .await
        .expect("model");
}

/// The status, and how long the answer took.
async fn ask(app: &TestApp, key: &str, model: &str) -> (u16, Duration) {
    let body = json!({ "model": model, "max_tokens": 8,
        "messages": [{ "role": "user", "content": "hello" }] });
    let started = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(20),
        post(app, "/v1/messages", key, body),
    )
    .await
    .expect("the gateway gave up on the stalled provider");
    (res.status().as_u16(), started.elapsed())
}

async fn a_provider_that_stalls_after_its_status_is_given_up(app: TestApp) -> TestApp {
    let s = setup(&app, "Stalled").await;
    model_on(
        &app,
        "stalls-failing",
        stalling(StatusCode::SERVICE_UNAVAILABLE).await,
    )
    .await;
    model_on(&app, "stalls-answering", stalling(StatusCode::OK).await).await;
    app.svc.refresh_caches().await.expect("refresh");
    let timeout = Duration::from_millis(TIMEOUT_MS as u64);

    // Two tries of at most one timeout each, and the pause between them.
    let (status, took) = ask(&app, &s.key, "stalls-failing").await;
    assert_eq!(status, 502, "a failing provider whose error body stalls");
    assert!(took >= timeout, "its error body was awaited: {took:?}");
    assert!(took < timeout * 2 + Duration::from_secs(2), "took {took:?}");

    // Headers and body within one timeout, not one each.
    let (status, took) = ask(&app, &s.key, "stalls-answering").await;
    assert_eq!(status, 504, "an answer whose body stalls");
    assert!(took >= timeout, "took {took:?}");
    assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    app
}

/// Anthropic's event sequence for a short text answer: the start, the
/// block's opening, `deltas` tokens, then the close.
fn anthropic_events(deltas: usize) -> (Vec<String>, Vec<String>) {
    let ev = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let head = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "m", "type": "message",
            "role": "assistant", "model": "m", "content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    let mut rest: Vec<String> = (0..deltas)
        .map(|i| {
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": format!("t{i} ")}}),
            )
        })
        .collect();
    rest.push(ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    rest.push(ev(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": deltas}}),
    ));
    rest.push(ev("message_stop", json!({"type": "message_stop"})));
    (head, rest)
}

/// A provider that streams `head` at once, then each of `paced` after
/// `gap`, then ends; or, with `stall`, sends `head` and then nothing more.
async fn pacing(gap: Duration, stall: bool) -> SocketAddr {
    let router = axum::Router::new().fallback(move || async move {
        let (head, paced) = anthropic_events(4);
        let head =
            futures::stream::iter(head).map(|f| Ok::<_, std::io::Error>(bytes::Bytes::from(f)));
        let paced = futures::stream::iter(paced).then(move |f| async move {
            tokio::time::sleep(gap).await;
            Ok(bytes::Bytes::from(f))
        });
        let body = if stall {
            axum::body::Body::from_stream(head.chain(futures::stream::pending()))
        } else {
            axum::body::Body::from_stream(head.chain(paced))
        };
        ([("content-type", "text/event-stream")], body)
    });
    serve(router).await
}

/// A provider that sends a whole answer of `deltas` tokens at once, one
/// chunk per event (read ahead and batched by the relay); with `broken`,
/// its connection closes after the last delta, every byte of them sent,
/// instead of ending the chunked body.
async fn burst(deltas: usize, broken: bool) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (head, mut rest) = anthropic_events(deltas);
            if broken {
                rest.truncate(deltas);
            }
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                // The request: its head, then the body its length names.
                while !request_read(&seen) {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                for frame in head.iter().chain(&rest) {
                    out.extend(format!("{:X}\r\n{frame}\r\n", frame.len()).into_bytes());
                }
                if !broken {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                let _ = conn.write_all(&out).await;
                let _ = conn.shutdown().await;
                // Read on until the gateway closes, so nothing unread turns the close into a reset.
                while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

/// Whether `seen` holds a whole request (head and `content-length` body).
fn request_read(seen: &[u8]) -> bool {
    let text = String::from_utf8_lossy(seen);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}

/// The text deltas of a streamed answer, in the order they came.
fn deltas(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|frame| frame.split_once("data: "))
        .filter_map(|(_, data)| serde_json::from_str::<serde_json::Value>(data).ok())
        .filter_map(|v| {
            v.pointer("/delta/text")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .collect()
}

/// A streamed answer's whole text, and how long it took.
async fn stream(app: &TestApp, key: &str, model: &str) -> (String, Duration) {
    let body = json!({ "model": model, "max_tokens": 8, "stream": true,
        "messages": [{ "role": "user", "content": "hello" }] });
    let started = Instant::now();
    let read = async {
        let res = post(app, "/v1/messages", key, body).await;
        assert_eq!(res.status(), 200);
        res.text().await.expect("body")
    };
    let text = tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the gateway gave up on the stalled stream");
    (text, started.elapsed())
}

async fn a_stream_times_out_per_event_not_in_total(app: TestApp) -> TestApp {
    let s = setup(&app, "Paced").await;
    let timeout = Duration::from_millis(TIMEOUT_MS as u64);
    // Seven events a half timeout apart: the stream outlasts the timeout
    // three times over, and each event comes in time.
    model_on(&app, "paced", pacing(timeout / 2, false).await).await;
    model_on(&app, "paced-stall", pacing(timeout, true).await).await;
    app.svc.refresh_caches().await.expect("refresh");

    let (text, took) = stream(&app, &s.key, "paced").await;
    assert!(took > timeout * 3, "took {took:?}");
    assert!(text.contains("event: message_stop"), "{text}");
    assert!(!text.contains("event: error"), "{text}");
    assert_eq!(text.matches("event: content_block_delta").count(), 4);

    // Stalled after its first events: those reach the client, then the
    // dialect's error event, one timeout after the last event.
    let (text, took) = stream(&app, &s.key, "paced-stall").await;
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(text.contains("event: error"), "{text}");
    assert!(!text.contains("event: message_stop"), "{text}");
    assert!(took >= timeout, "took {took:?}");
    assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    app
}

async fn a_burst_arrives_whole_and_in_order_and_a_break_after_it_is_an_error(
    app: TestApp,
) -> TestApp {
    let s = setup(&app, "Burst").await;
    model_on(&app, "burst", burst(300, false).await).await;
    model_on(&app, "burst-broken", burst(300, true).await).await;
    app.svc.refresh_caches().await.expect("refresh");
    let expected: Vec<String> = (0..300).map(|i| format!("t{i} ")).collect();

    let (text, _) = stream(&app, &s.key, "burst").await;
    assert_eq!(deltas(&text), expected);
    assert!(
        text.trim_end()
            .ends_with(r#"data: {"type":"message_stop"}"#),
        "{text}"
    );
    assert!(!text.contains("event: error"), "{text}");

    // Every event read before the break reaches the client, then the
    // dialect's error event, and nothing after it.
    let (text, _) = stream(&app, &s.key, "burst-broken").await;
    assert_eq!(deltas(&text), expected);
    let last = text.trim_end().rsplit("\n\n").next().unwrap_or_default();
    assert!(last.starts_with("event: error"), "{last}");
    assert!(!text.contains("event: message_stop"), "{text}");
    app
}

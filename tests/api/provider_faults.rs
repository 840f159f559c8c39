//! Providers that answer and then stall, on both backends: the request is
//! given up when the provider's timeout ends (counted from the call), never
//! left waiting on a body that does not come. A 5xx whose error body stalls
//! is retried and then refused; a 200 whose body stalls is a 504.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atrium::domain::catalog::ProviderKind;
use atrium::domain::pricing::Price;
use atrium::server::services::catalog::{self, Credential, NewModel, NewProvider};
use atrium::server::services::Actor;
use axum::http::StatusCode;
use serde_json::json;

use crate::common::TestApp;
use crate::gateway::post;
use crate::governance::setup;

on_both_backends!(a_provider_that_stalls_after_its_status_is_given_up);

const TIMEOUT_MS: i64 = 600;

/// A provider that sends `status` and headers, then nothing more.
async fn stalling(status: StatusCode) -> SocketAddr {
    let router = axum::Router::new().fallback(move || async move {
        let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
        let headers = [("content-type", "application/json")];
        (status, headers, axum::body::Body::from_stream(never))
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, router).await });
    addr
}

async fn model_on(app: &TestApp, name: &str, addr: SocketAddr) {
    let admin = Actor::system("test");
    let p = NewProvider {
        name: name.into(),
        kind: ProviderKind::Anthropic,
        base_url: format!("http://{addr}"),
        region: "any".into(),
        timeout_ms: TIMEOUT_MS,
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

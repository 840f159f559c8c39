//! The provider client against real sockets.

use super::*;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener that takes one request, reads until `body` has come,
/// answers 200 "ok" and hands back what it read, lower-cased.
async fn one_request(body: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(body) {
            let n = conn.read(&mut buf).await.expect("read");
            assert!(n > 0, "the request ended early");
            seen.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .expect("write");
        String::from_utf8_lossy(&seen).to_ascii_lowercase()
    });
    (port, server)
}

/// A provider registered by name: resolved through `PublicOnly`
/// ("localhost" is allowed), sent the body and headers as given, with
/// its length.
#[tokio::test]
async fn posts_to_a_named_host_with_headers_and_length() {
    let (port, server) = one_request("{\"a\":1}").await;
    let client = ProviderClient::new(&[]).expect("client");
    let uri: Uri = format!("http://localhost:{port}/v1/chat/completions")
        .parse()
        .expect("uri");
    let auth = (
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer sk-test"),
    );
    let res = client
        .post_json(uri, [auth], Bytes::from_static(b"{\"a\":1}"))
        .await
        .expect("answered");
    assert_eq!(res.status(), 200);
    let request = server.await.expect("server");
    assert!(
        request.starts_with("post /v1/chat/completions http/1.1\r\n"),
        "{request}"
    );
    for line in [
        "content-type: application/json",
        "authorization: bearer sk-test",
        "content-length: 7",
        &format!("host: localhost:{port}"),
    ] {
        assert!(request.contains(line), "missing {line:?} in {request}");
    }
}

/// Behind a proxy, the request goes to the proxy (absolute-form, as
/// HTTP proxies take it), with its headers and body.
#[tokio::test]
async fn a_proxy_gets_the_request() {
    let (port, server) = one_request("{}").await;
    let proxy = format!("http://127.0.0.1:{port}");
    let proxy = reqwest::Proxy::http(proxy).expect("proxy");
    let client = ProviderClient::proxied(&[], Some(proxy)).expect("client");
    let uri: Uri = "http://provider.example:8000/v1/messages"
        .parse()
        .expect("uri");
    let key = (
        HeaderName::from_static("x-api-key"),
        HeaderValue::from_static("sk-test"),
    );
    let res = client
        .post_json(uri, [key], Bytes::from_static(b"{}"))
        .await
        .expect("answered");
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"ok");
    let request = server.await.expect("proxy");
    assert!(
        request.starts_with("post http://provider.example:8000/v1/messages http/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("x-api-key: sk-test"), "{request}");
    assert!(
        request.contains("content-type: application/json"),
        "{request}"
    );
}

/// Counts the connections made to it; answers every request on them.
async fn counting_upstream() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // Each request here fits one read: answer every read.
                while conn.read(&mut buf).await.is_ok_and(|n| n > 0) {
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if conn.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, accepted)
}

async fn call(client: &ProviderClient, port: u16) {
    let uri: Uri = format!("http://127.0.0.1:{port}/v1").parse().expect("uri");
    let res = client
        .post_json(uri, [], Bytes::from_static(b"{}"))
        .await
        .expect("answered");
    let body = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"ok");
    // hyper hands the connection back to its pool from the connection's own
    // task, after the body ends; a call made before that task runs (from
    // another thread, say) rightly dials a second one. Let it run, so the
    // counts below measure sharing, not this race (it failed CI once).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// Calls the upstream once from another thread with a runtime of its own
/// (a shard), while this one keeps running the upstream.
async fn call_from_another_thread(client: &ProviderClient, port: u16) {
    let other = client.clone();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async { call(&other, port).await });
    })
    .await
    .expect("other thread");
}

/// Unless told otherwise, one pool serves every thread.
#[tokio::test]
async fn by_default_threads_share_one_pool() {
    use std::sync::atomic::Ordering;
    let (port, accepted) = counting_upstream().await;
    let client = ProviderClient::new(&[]).expect("client");
    call(&client, port).await;
    call_from_another_thread(&client, port).await;
    call(&client, port).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "not shared");
}

/// Each thread keeps its own pool (its connections' tasks run on that
/// thread's runtime), and reuses it.
#[tokio::test]
async fn each_thread_reuses_a_pool_of_its_own() {
    use std::sync::atomic::Ordering;
    let (port, accepted) = counting_upstream().await;
    let client = ProviderClient::new(&[]).expect("client").per_thread(true);
    for _ in 0..3 {
        call(&client, port).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "not reused");
    call_from_another_thread(&client, port).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "pool shared");
    call(&client, port).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "first pool lost");
}

/// Nothing listens: an error, not a hang, and not called a timeout.
#[tokio::test]
async fn a_refused_connection_is_an_error() {
    let client = ProviderClient::new(&[]).expect("client");
    let uri: Uri = "http://127.0.0.1:9/v1".parse().expect("uri");
    let err = client
        .post_json(uri, [], Bytes::new())
        .await
        .expect_err("nothing listens on the discard port");
    assert!(!err.is_timeout());
}

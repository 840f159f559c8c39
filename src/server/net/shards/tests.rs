//! Shards against real sockets: spread, drain and abort.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Answers with the serving thread's name and the peer it was given;
/// `/slow` first waits 300 ms.
fn app() -> Router {
    async fn who(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        format!("{thread} {peer}")
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "done"
    }
    Router::new().route("/", get(who)).route("/slow", get(slow))
}

async fn start(
    count: usize,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel();
    let (shards, _joined) = super::start(&app(), count).expect("shards");
    let task = tokio::spawn(shards.serve(listener, stopped));
    (addr, stop, task)
}

/// One HTTP/1.1 request on an open connection; the body of the answer.
async fn get_on(conn: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
    conn.write_all(req.as_bytes()).await.expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before an answer: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|l| l.trim().parse::<usize>().ok())
                .expect("a length");
            if body.len() >= len {
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                return body.to_string();
            }
        }
    }
}

#[tokio::test]
async fn connections_spread_over_the_shards_and_carry_their_peer() {
    let (addr, stop, task) = start(2).await;
    let mut a = TcpStream::connect(addr).await.expect("connect");
    let mut b = TcpStream::connect(addr).await.expect("connect");
    let first = get_on(&mut a, "/").await;
    let second = get_on(&mut b, "/").await;
    let again = get_on(&mut a, "/").await;
    let a_peer = a.local_addr().expect("peer").to_string();
    let b_peer = b.local_addr().expect("peer").to_string();
    assert!(first.ends_with(&a_peer), "{first} for {a_peer}");
    assert!(second.ends_with(&b_peer), "{second} for {b_peer}");
    let shard = |s: &str| s.split(' ').next().unwrap_or_default().to_string();
    assert!(shard(&first).starts_with("atrium-shard-"), "{first}");
    assert_ne!(shard(&first), shard(&second), "both on one shard");
    assert_eq!(first, again, "a connection stays on its shard");
    stop.send(()).expect("stop");
    drop((a, b));
    task.await.expect("joined").expect("served");
}

/// A stop lets the request in flight finish, closes its connection
/// after it, and accepts nothing more.
#[tokio::test]
async fn a_stop_drains_the_request_in_flight() {
    let (addr, stop, task) = start(2).await;
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let slow = tokio::spawn(async move { get_on(&mut conn, "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).expect("stop");
    assert_eq!(slow.await.expect("answered"), "done");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("drained in time")
        .expect("joined")
        .expect("served");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

/// The serve task aborted (the drain deadline passed): the shards
/// close what is still open.
#[tokio::test]
async fn an_aborted_serve_closes_its_connections() {
    let (addr, _stop, task) = start(1).await;
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "answered after the abort: {read:?}"
    );
}

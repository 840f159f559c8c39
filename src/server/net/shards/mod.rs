//! Serving connections on shards (`ATRIUM_SERVE_SHARDS`, off by default):
//! threads that each run a single-threaded runtime, with one accept loop
//! handing each connection to the shard holding the fewest.
//!
//! Why: a completion hops between tasks (the connection, the detached
//! completion, the provider connection's task), and on
//! the multi-threaded runtime every hop could wake the other worker, parked
//! in the kernel. The profile showed those wake-ups (`futex`,
//! `try_to_wake_up`, `finish_task_switch`) as the largest cost left. On a
//! shard a connection's tasks all live on one thread, so a hop is a queue
//! push; the kernel spreads nothing but whole connections.
//!
//! The price, why it is opt-in: a shard runs one task at a time and no
//! other thread takes its work. CPU-bound work on request data done inline
//! (parsing a large body, governing a large answer; only scans above
//! `services::CPU_BOUND_BYTES` go to the blocking pool) holds every other
//! connection of its shard; a connection's work (an HTTP/2 client's every
//! stream) never spreads over cores; and a database or Redis connection a
//! shard's request opened is driven by that shard's reactor.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a stopped shard waits for its blocking work (a large scan).
/// Tasks its connections left (a completion whose client hung up) are
/// dropped with its runtime; what they recorded is spooled.
const BLOCKING_GRACE: Duration = Duration::from_secs(1);

/// A shard's open count once it is gone: never the fewest.
const GONE: usize = usize::MAX / 2;

/// A connection handed to a shard: the socket leaves the accepting
/// runtime's reactor and joins the shard's.
type Handoff = (std::net::TcpStream, SocketAddr);

/// What the shards are told to do; the sender dropped means abort.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Serve,
    Drain,
}

/// Shards started and waiting for connections.
pub struct Shards {
    queues: Vec<(mpsc::UnboundedSender<Handoff>, Arc<AtomicUsize>)>,
    finished: Vec<oneshot::Receiver<()>>,
    phase: watch::Sender<Phase>,
}

/// The shards' threads, joined after a stop however it went (the serve
/// task may have been aborted), so nothing they drop comes after the
/// ledger's last flush.
pub struct Joined(Vec<std::thread::JoinHandle<()>>);

/// Starts `count` shards serving `app`.
pub fn start(app: &Router, count: usize) -> std::io::Result<(Shards, Joined)> {
    let (phase, watching) = watch::channel(Phase::Serve);
    let mut shards = Shards {
        queues: Vec::with_capacity(count),
        finished: Vec::with_capacity(count),
        phase,
    };
    let mut threads = Vec::with_capacity(count);
    for index in 0..count.max(1) {
        let (tx, rx) = mpsc::unbounded_channel::<Handoff>();
        let (done, finished) = oneshot::channel();
        let shard = Shard {
            app: app.clone(),
            conns: rx,
            phase: watching.clone(),
            open: Arc::new(AtomicUsize::new(0)),
        };
        shards.queues.push((tx, shard.open.clone()));
        shards.finished.push(finished);
        threads.push(
            std::thread::Builder::new()
                .name(format!("atrium-shard-{index}"))
                .spawn(move || {
                    shard.run();
                    let _ = done.send(());
                })?,
        );
    }
    Ok((shards, Joined(threads)))
}

impl Shards {
    /// Accepts until `stop` fires (or its sender is dropped), then lets
    /// every connection finish. Dropping this future (the serve task
    /// aborted at the drain deadline) closes them all.
    pub async fn serve(
        self,
        listener: TcpListener,
        stop: oneshot::Receiver<()>,
    ) -> std::io::Result<()> {
        accept(&listener, &self.queues, stop).await;
        drop(listener);
        let _ = self.phase.send(Phase::Drain);
        for shard in self.finished {
            let _ = shard.await;
        }
        Ok(())
    }
}

impl Joined {
    pub async fn join(self) {
        let threads = self.0;
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                if t.join().is_err() {
                    tracing::error!("a serving shard panicked");
                }
            }
        });
        if let Err(e) = joined.await {
            tracing::error!(error = %e, "joining the serving shards failed");
        }
    }
}

/// Accepts until `stop`, giving each connection to the shard with the
/// fewest open (ties to the lowest), so long-lived streams spread too.
async fn accept(
    listener: &TcpListener,
    queues: &[(mpsc::UnboundedSender<Handoff>, Arc<AtomicUsize>)],
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, say: as axum's loop does, wait
                // rather than spin.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Ok(tcp) = tcp.into_std() else {
            continue;
        };
        let Some((queue, open)) = queues
            .iter()
            .min_by_key(|(_, open)| open.load(Ordering::Relaxed))
        else {
            return;
        };
        open.fetch_add(1, Ordering::Relaxed);
        if queue.send((tcp, peer)).is_err() {
            // Gone (its runtime could not start): never chosen again.
            open.store(GONE, Ordering::Relaxed);
            tracing::error!("a serving shard is gone; its connection is closed");
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

struct Shard {
    app: Router,
    conns: mpsc::UnboundedReceiver<Handoff>,
    phase: watch::Receiver<Phase>,
    /// Connections this shard holds, for the accept loop's choice.
    open: Arc<AtomicUsize>,
}

impl Shard {
    fn run(self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "a serving shard could not start");
                return;
            }
        };
        let Shard {
            app,
            mut conns,
            mut phase,
            open,
        } = self;
        rt.block_on(async {
            let graceful = GracefulShutdown::new();
            loop {
                tokio::select! {
                    next = conns.recv() => match next {
                        Some((tcp, peer)) => connection(&app, &open, &graceful, tcp, peer),
                        None => break,
                    },
                    // Draining or aborted: accept nothing more.
                    _ = phase.changed() => break,
                }
            }
            // Connections accepted but not yet taken join the graceful
            // close, as `axum::serve`'s do: closed once idle.
            while let Ok((tcp, peer)) = conns.try_recv() {
                connection(&app, &open, &graceful, tcp, peer);
            }
            let aborted = phase.wait_for(|_| false);
            tokio::select! {
                () = graceful.shutdown() => {}
                _ = aborted => {}
            }
        });
        rt.shutdown_timeout(BLOCKING_GRACE);
    }
}

/// Serves one connection in a task of its own, as `axum::serve` does.
fn connection(
    app: &Router,
    open: &Arc<AtomicUsize>,
    graceful: &GracefulShutdown,
    tcp: std::net::TcpStream,
    peer: SocketAddr,
) {
    let open = Open(open.clone());
    let mut tcp = match TcpStream::from_std(tcp) {
        Ok(tcp) => tcp,
        Err(e) => {
            tracing::warn!(error = %e, "a connection could not join its shard");
            return;
        }
    };
    super::no_delay(&mut tcp);
    let app = app.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        tower::Service::call(&mut app.clone(), req)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // As axum's: HTTP/2 CONNECT, for websockets over HTTP/2.
    builder.http2().enable_connect_protocol();
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(tcp), service)
        .into_owned();
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        let _open = open;
        if let Err(e) = conn.await {
            tracing::trace!(error = %e, "connection ended with an error");
        }
    });
}

/// One open connection in its shard's count, however its task ends.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;

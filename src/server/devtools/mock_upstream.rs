//! `atrium mock-upstream`: a local provider that speaks the Anthropic and
//! OpenAI wire formats, streaming included, for tests, demos and benchmarks
//! (`mock_provider`), or a vLLM-compatible engine (`mock_vllm`). This
//! module starts one of them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use super::mock_options::Mock;
pub use super::mock_options::{MockKind, MockOptions};

/// Binds and serves in the background; returns the bound address.
pub async fn spawn(
    opts: MockOptions,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(&opts.addr).await?;
    let addr = listener.local_addr()?;
    // As a provider's server would: a stream's first event is not held back.
    let listener = listener.tap_io(crate::server::net::no_delay);
    let kind = opts.kind;
    let mock = Mock {
        opts,
        count: Arc::default(),
        last: Arc::default(),
    };
    if kind == MockKind::Vllm {
        let app = super::mock_vllm::router(mock, addr)?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        return Ok((addr, task));
    }
    let app = super::mock_provider::router(mock);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

pub async fn run(opts: MockOptions) -> std::io::Result<()> {
    let kind = opts.kind;
    let (addr, task) = spawn(opts).await?;
    match kind {
        MockKind::Provider => println!("mock upstream listening on http://{addr} (anthropic: http://{addr}, openai: http://{addr}/v1)"),
        MockKind::Vllm => println!("mock vLLM engine listening on http://{addr}/v1"),
    }
    let _ = task.await;
    Ok(())
}

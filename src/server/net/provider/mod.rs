//! The client the completion path calls providers with: hyper's pooled
//! client over rustls, with the guards of every outbound client (no
//! redirects: hyper follows none; only reachable addresses, checked on
//! every resolution by `PublicOnly`).
//!
//! Not reqwest, whose per-request work the gateway's profile showed:
//! each request's URL was parsed again (`url::Url::parse`, 2.5% of the
//! gateway's CPU) and passed through its redirect layer even with
//! redirects off. Here the provider's URI is parsed once per catalog
//! snapshot and a request is built straight from it.
//!
//! Except behind an egress proxy: when the environment names one
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, with `NO_PROXY`), providers
//! are called through reqwest, which speaks to proxies, as every other
//! outbound client does. The proxy then resolves providers' names, so
//! only address literals are checked here (at registration and by the
//! catalog): what a name may reach is the proxy's egress policy.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{BoxError, PublicOnly};

type Connector = HttpsConnector<HttpConnector<PublicOnly>>;

/// Idle connections kept per provider host: one per concurrent request a
/// busy gateway sends there, so a burst does not reconnect.
const IDLE_PER_HOST: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive as reqwest set it: a provider host that vanished (a
/// dropped NAT entry, a lost machine) is noticed within about a minute,
/// not only when the request's own timeout ends.
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_RETRIES: u32 = 3;
const USER_TIMEOUT: Duration = Duration::from_secs(30);
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

type Direct = Client<Connector, Full<Bytes>>;

#[derive(Clone)]
pub struct ProviderClient(Inner);

// One per process, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Inner {
    /// With the connector its pools use: one pool for the process
    /// (`shared`), or one per thread (`this_thread`) when there is none.
    Direct {
        connector: Arc<Connector>,
        shared: Option<Direct>,
    },
    /// Through the proxy the environment names.
    Proxied(reqwest::Client),
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{0}")]
    Proxied(#[from] reqwest::Error),
}

/// Why a request got no answer (a connection that failed or broke).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Direct(#[from] hyper_util::client::legacy::Error),
    #[error("{0}")]
    Proxied(#[from] reqwest::Error),
}

impl SendError {
    /// The connection was not made in time (a provider that is down
    /// behind a firewall that drops packets).
    pub fn is_timeout(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = match self {
            SendError::Direct(e) => Some(e),
            SendError::Proxied(e) if e.is_timeout() => return true,
            SendError::Proxied(e) => Some(e),
        };
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return true;
                }
            }
            source = e.source();
        }
        false
    }
}

impl ProviderClient {
    /// HTTPS with the web PKI roots (as reqwest's `rustls-tls`), HTTP/2
    /// where the provider offers it by ALPN, plain HTTP otherwise.
    pub fn new(allowed_private: &[String]) -> Result<Self, BuildError> {
        if PROXY_VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|p| !p.is_empty()))
        {
            tracing::info!("providers are called through the proxy the environment names");
            // The proxy is the operator's own, usually on a private
            // address: its name is not refused as a provider's would be.
            let mut allowed = allowed_private.to_vec();
            allowed.extend(proxy_hosts());
            return Self::proxied(&allowed, None);
        }
        let mut http = HttpConnector::new_with_resolver(PublicOnly::new(allowed_private));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_keepalive(Some(KEEPALIVE));
        http.set_keepalive_interval(Some(KEEPALIVE));
        http.set_keepalive_retries(Some(KEEPALIVE_RETRIES));
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        http.set_tcp_user_timeout(Some(USER_TIMEOUT));
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let connector = Arc::new(https);
        Ok(Self(Inner::Direct {
            shared: Some(pool(&connector)),
            connector,
        }))
    }

    /// One pool per thread, for serving shards (`net::shards`). Through a
    /// proxy the one reqwest pool stays.
    pub fn per_thread(self, yes: bool) -> Self {
        match self.0 {
            Inner::Direct { connector, .. } if yes => Self(Inner::Direct {
                connector,
                shared: None,
            }),
            inner => Self(inner),
        }
    }

    /// Through reqwest: the proxy given, or (`None`) the environment's.
    fn proxied(
        allowed_private: &[String],
        proxy: Option<reqwest::Proxy>,
    ) -> Result<Self, BuildError> {
        let mut builder = super::client(allowed_private)
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(proxy) = proxy {
            builder = builder.proxy(proxy);
        }
        Ok(Self(Inner::Proxied(builder.build()?)))
    }

    /// POSTs a JSON body with the given headers; the caller bounds the time.
    pub async fn post_json(
        &self,
        uri: Uri,
        headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<Response<UpstreamBody>, SendError> {
        let mut req = Request::new(body);
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // What reqwest sent: some gateways in front of providers want one.
        h.insert(http::header::ACCEPT, HeaderValue::from_static("*/*"));
        h.extend(headers);
        match &self.0 {
            Inner::Direct { connector, shared } => {
                let req = req.map(Full::new);
                let res = match shared {
                    Some(client) => client.request(req).await?,
                    None => this_thread(connector).request(req).await?,
                };
                Ok(res.map(UpstreamBody::Direct))
            }
            Inner::Proxied(client) => {
                let req = reqwest::Request::try_from(req)?;
                let res = http::Response::from(client.execute(req).await?);
                Ok(res.map(UpstreamBody::Proxied))
            }
        }
    }
}

thread_local! {
    /// Each thread's pool, per client (a test process builds several).
    static POOLS: RefCell<Vec<(Weak<Connector>, Direct)>> = const { RefCell::new(Vec::new()) };
}

/// This thread's pool of connections to providers. A pooled connection is
/// driven by a task of the runtime that opened it; shared across serving
/// shards (`net::shards`), a request on one shard would wake the other
/// shard's thread to write and again to read, the very hops shards save.
fn this_thread(connector: &Arc<Connector>) -> Direct {
    POOLS.with_borrow_mut(|pools| {
        if let Some((_, client)) = pools
            .iter()
            .find(|(c, _)| std::ptr::eq(c.as_ptr(), Arc::as_ptr(connector)))
        {
            return client.clone();
        }
        pools.retain(|(c, _)| c.strong_count() > 0);
        let client = pool(connector);
        pools.push((Arc::downgrade(connector), client.clone()));
        client
    })
}

fn pool(connector: &Connector) -> Direct {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .pool_timer(TokioTimer::new())
        .build(connector.clone())
}

/// The hosts of the proxies the environment names.
fn proxy_hosts() -> Vec<String> {
    PROXY_VARS
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .filter_map(|p| reqwest::Url::parse(&p).ok())
        .filter_map(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
        .collect()
}

/// A provider's answer body, from either client.
#[derive(Debug)]
pub enum UpstreamBody {
    Direct(Incoming),
    Proxied(reqwest::Body),
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Direct(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            Self::Proxied(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Direct(b) => b.is_end_stream(),
            Self::Proxied(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Direct(b) => b.size_hint(),
            Self::Proxied(b) => b.size_hint(),
        }
    }
}

/// hyper's resolver interface over the same address check as reqwest's.
impl tower::Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move { Ok(this.lookup(host).await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests;

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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
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

#[derive(Clone)]
pub struct ProviderClient {
    inner: Client<Connector, Full<Bytes>>,
}

/// Why a request got no answer (a connection that failed or broke).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(#[from] hyper_util::client::legacy::Error);

impl SendError {
    /// The connection was not made in time (a provider that is down
    /// behind a firewall that drops packets).
    pub fn is_timeout(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&self.0);
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
    pub fn new(allowed_private: &[String]) -> Result<Self, rustls::Error> {
        let mut http = HttpConnector::new_with_resolver(PublicOnly::new(allowed_private));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Self { inner })
    }

    /// POSTs a JSON body with the given headers; the caller bounds the time.
    pub async fn post_json(
        &self,
        uri: Uri,
        headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<Response<Incoming>, SendError> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.extend(headers);
        Ok(self.inner.request(req).await?)
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
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A provider registered by name: resolved through `PublicOnly`
    /// ("localhost" is allowed), sent the body and headers as given, with
    /// its length.
    #[tokio::test]
    async fn posts_to_a_named_host_with_headers_and_length() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("{\"a\":1}") {
                let n = conn.read(&mut buf).await.expect("read");
                assert!(n > 0, "the request ended early");
                seen.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .expect("write");
            String::from_utf8_lossy(&seen).to_ascii_lowercase()
        });
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
}

//! The HTTP clients Atrium calls out with (providers, engines, webhooks,
//! the audit anchor): they never follow a redirect (a provider's or a
//! receiver's answer is the answer, and a redirect could carry a credential
//! or a signed body to another host), and they connect only to addresses
//! `domain::address::reachable` allows, checked on every resolution, so a
//! registered name later pointed at an internal address reaches nothing.
//! IP literals are checked when the URL is registered (`base_url`), and
//! again as the URL parser reads them before providers and tenants'
//! webhooks are called (`literal_allowed`). Behind an egress proxy the
//! proxy resolves names: there only literals are checked here.
//!
//! Providers on the completion path get their own client (`provider`):
//! hyper's, with the same two guards and none of reqwest's per-request work.

pub mod provider;
pub mod shards;

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::address::reachable;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sets `TCP_NODELAY` on an accepted connection. Without it a streamed
/// answer's first event, written just after the headers, waited in the
/// kernel for the client's acknowledgement of them (Nagle's algorithm):
/// about 300 µs more to the first token on loopback, more across a network.
pub fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set on an accepted connection");
    }
}

/// Whether a URL, as the URL parser reads it, may be called: an address
/// literal must be public, loopback or allowed by host, whatever spelling
/// got the URL stored (registration reads it with a simpler parser, and
/// literals skip the resolver's check). A name is checked at resolution.
pub fn literal_allowed(url: &reqwest::Url, allowed: &[String]) -> bool {
    // The parser's own reading: an address literal comes out normalised.
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return true;
    };
    ip.is_loopback()
        || !crate::domain::address::is_private(ip)
        || allowed.iter().any(|h| {
            h.eq_ignore_ascii_case(host) || h.parse::<std::net::IpAddr>().is_ok_and(|a| a == ip)
        })
}

/// A client builder with both guards; callers add their timeouts.
pub fn client(allowed_private: &[String]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicOnly {
            allowed: allowed_private.into(),
        }))
}

/// Resolves with the system resolver, then drops what may not be reached.
#[derive(Clone)]
pub(crate) struct PublicOnly {
    allowed: Arc<[String]>,
}

impl PublicOnly {
    pub(crate) fn new(allowed_private: &[String]) -> Self {
        Self {
            allowed: allowed_private.into(),
        }
    }

    /// The addresses of `host` this client may connect to; an error when
    /// there are none.
    pub(crate) async fn lookup(&self, host: String) -> Result<Vec<SocketAddr>, BoxError> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
        let kept = reachable(&host, found, &self.allowed);
        if kept.is_empty() {
            return Err(format!("{host} resolves only to private addresses").into());
        }
        Ok(kept)
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move { Ok(Box::new(this.lookup(host).await?.into_iter()) as Addrs) })
    }
}

#[cfg(test)]
mod tests {
    use super::{literal_allowed, no_delay};

    #[tokio::test]
    async fn accepted_connections_send_without_delay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::net::TcpStream::connect(addr);
        let ((mut accepted, _), _client) =
            tokio::join!(async { listener.accept().await.expect("accept") }, async {
                client.await.expect("connect")
            });
        assert!(!accepted.nodelay().expect("read the option"));
        no_delay(&mut accepted);
        assert!(accepted.nodelay().expect("read the option"));
    }

    /// Spellings the URL parser decodes to a private address are refused
    /// before a call, whatever let them be stored.
    #[test]
    fn private_literals_in_any_spelling_are_not_called() {
        let none: [String; 0] = [];
        for bad in [
            "https://%31%30.0.0.%35/v1",
            "https://10.0.0.5\\x.example.com/v1",
            "https://\u{ff11}\u{ff10}.\u{ff10}.\u{ff10}.\u{ff15}/v1",
            "https://[::ffff:169.254.169.254]/v1",
            "https://0x0a000005/v1",
        ] {
            let url = reqwest::Url::parse(bad).expect("parses");
            assert!(!literal_allowed(&url, &none), "{bad}");
        }
        for good in [
            "http://127.0.0.1:9099/v1",
            "https://api.example.com/v1",
            "https://8.8.8.8/v1",
        ] {
            let url = reqwest::Url::parse(good).expect("parses");
            assert!(literal_allowed(&url, &none), "{good}");
        }
        let url = reqwest::Url::parse("http://10.0.0.5:8000/v1").expect("parses");
        assert!(literal_allowed(&url, &["10.0.0.5".to_string()]));
        // Allowed as typed, read back in the parser's short form.
        let url = reqwest::Url::parse("https://[fd00:0000::1]/v1").expect("parses");
        assert!(literal_allowed(&url, &["fd00:0000::1".to_string()]));
        assert!(!literal_allowed(&url, &[]));
    }
}

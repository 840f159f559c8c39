//! Who is on the other end of a request, for throttling and the audit trail.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

use crate::server::services::Services;

/// The caller as the portal sees it: address (for throttling and the audit
/// trail) and whether it came over TLS (for the cookie's Secure flag).
pub struct Client {
    pub ip: String,
    pub https: bool,
}

impl<S> FromRequestParts<S> for Client
where
    Services: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = &Services::from_ref(state).config;
        Ok(Client {
            ip: client_ip(&parts.headers, &parts.extensions, config.proxies()),
            https: is_https(&parts.headers, config.trust_proxy, config.secure_cookies()),
        })
    }
}

/// The peer address or, behind trusted proxies, the address the nearest
/// of them saw (see `forwarded_client`).
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions, proxies: Option<usize>) -> String {
    if let Some(hops) = proxies {
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if let Some(ip) = forwarded_client(&forwarded.join(","), hops) {
            return ip.to_string();
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Each proxy appends the address it saw to the right of
/// `X-Forwarded-For`, so with `hops` trusted proxies the client is the
/// `hops`-th entry from the right; whatever the client wrote further left
/// is ignored. `None` when that entry is missing or not an IP address.
pub fn forwarded_client(xff: &str, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    xff.rsplit(',')
        .nth(hops - 1)
        .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
}

/// Whether the browser reached us over TLS, directly or through the proxy.
pub fn is_https(headers: &HeaderMap, trust_proxy: bool, configured: bool) -> bool {
    configured
        || (trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_counted_from_the_right() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        // A spoofed entry on the left is ignored; our proxy appended the last.
        assert_eq!(
            forwarded_client("1.2.3.4, 203.0.113.9", 1),
            ip("203.0.113.9")
        );
        assert_eq!(
            forwarded_client("1.2.3.4, 203.0.113.9, 10.0.0.2", 2),
            ip("203.0.113.9")
        );
        assert_eq!(forwarded_client("2001:db8::1", 1), ip("2001:db8::1"));
        assert_eq!(
            forwarded_client("203.0.113.9", 2),
            None,
            "fewer entries than hops"
        );
        assert_eq!(forwarded_client("evil, not-an-ip", 1), None);
        assert_eq!(forwarded_client("203.0.113.9", 0), None);
    }
}

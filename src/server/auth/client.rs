//! Who is on the other end of a request, for throttling and the audit trail.

use std::net::SocketAddr;

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
            ip: client_ip(&parts.headers, &parts.extensions, config.trust_proxy),
            https: is_https(&parts.headers, config.trust_proxy, config.secure_cookies()),
        })
    }
}

/// The peer address, or the first `X-Forwarded-For` hop when the operator
/// said a trusted proxy sits in front.
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions, trust_proxy: bool) -> String {
    if trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
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

//! Mutations must come from the portal's own pages. SameSite=Lax already
//! keeps the cookie off cross-site POSTs; this check refuses them outright.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub fn is_same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => {
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .unwrap_or("");
            !host.is_empty() && authority == host
        }
        // No Origin: not a browser form or fetch (curl, tests, the CLI over HTTP),
        // unless the browser says the request is cross-site.
        None => headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v != "cross-site"),
    }
}

/// Guards the portal's mutations: server functions and sign-in/out. The
/// completion API is for programs, which authenticate with keys, not cookies.
pub async fn require_same_origin(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = req.uri().path();
    let portal = ["/api/", "/auth/", "/audit/"]
        .iter()
        .any(|p| path.starts_with(p));
    if safe || !portal || is_same_origin(req.headers()) {
        next.run(req).await
    } else {
        (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn same_origin_passes() {
        assert!(is_same_origin(&headers(&[
            ("host", "a.io:3000"),
            ("origin", "http://a.io:3000")
        ])));
    }

    #[test]
    fn other_origins_fail() {
        assert!(!is_same_origin(&headers(&[
            ("host", "a.io"),
            ("origin", "https://evil.io")
        ])));
        assert!(!is_same_origin(&headers(&[
            ("host", "a.io"),
            ("origin", "null")
        ])));
        assert!(!is_same_origin(&headers(&[
            ("host", "a.io"),
            ("sec-fetch-site", "cross-site")
        ])));
    }

    #[test]
    fn non_browser_clients_pass() {
        assert!(is_same_origin(&headers(&[("host", "a.io")])));
    }
}

//! Step 1, authenticate: the key from `x-api-key` or `Authorization:
//! Bearer`, checked against the key cache (no database hit when warm).

use std::sync::Arc;

use axum::http::{header, HeaderMap};

use super::error::GatewayError;
use super::Gateway;
use crate::server::services::api_keys::{self, Authenticated};

/// The presented key, or "" when there is none.
fn presented_key(headers: &HeaderMap) -> &str {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
        })
        .unwrap_or("")
}

pub async fn key(gw: &Gateway, headers: &HeaderMap) -> Result<Arc<Authenticated>, GatewayError> {
    let auth = api_keys::authenticate(&gw.svc, presented_key(headers)).await?;
    tracing::Span::current().record("tenant_id", auth.tenant.id.as_str());
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), "");
        h.insert("authorization", "Bearer atr_x".parse().expect("value"));
        assert_eq!(presented_key(&h), "atr_x");
        h.insert("x-api-key", "atr_y".parse().expect("value"));
        assert_eq!(presented_key(&h), "atr_y", "x-api-key wins");
    }
}

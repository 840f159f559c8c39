//! The HTTP clients Atrium calls out with (providers, engines, webhooks,
//! the audit anchor): they never follow a redirect (a provider's or a
//! receiver's answer is the answer, and a redirect could carry a credential
//! or a signed body to another host), and they connect only to addresses
//! `domain::address::reachable` allows, checked on every resolution, so a
//! registered name later pointed at an internal address reaches nothing.
//! IP literals are checked when the URL is registered (`base_url`).

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::address::reachable;

/// A client builder with both guards; callers add their timeouts.
pub fn client(allowed_private: &[String]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicOnly {
            allowed: allowed_private.into(),
        }))
}

/// Resolves with the system resolver, then drops what may not be reached.
struct PublicOnly {
    allowed: Arc<[String]>,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = reachable(&host, found, &allowed);
            if kept.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to private addresses").into();
                return Err(refused);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

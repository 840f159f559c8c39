//! Calling providers: one attempt per try, retries with backoff on faults
//! worth retrying, then the next deployment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use super::error::GatewayError;
use super::route::Route;
use crate::domain::catalog::{Deployment, Provider, ProviderKind};
use crate::server::services::catalog::{Catalog, ProviderEntry};

const ANTHROPIC_VERSION: &str = "2023-06-01";
const TRIES_PER_DEPLOYMENT: u32 = 2;

/// What a failed attempt means for the next one.
enum Attempt {
    /// Connect errors, timeouts, 429 and 5xx: try again, then elsewhere.
    Retry(GatewayError),
    /// The provider rejected the request itself: no point trying elsewhere.
    Final(GatewayError),
}

pub struct Answer {
    pub response: reqwest::Response,
    /// The provider that answered, shared with the catalog snapshot.
    pub entry: Arc<ProviderEntry>,
    pub upstream_latency: Duration,
}

impl Answer {
    pub fn provider(&self) -> &Provider {
        &self.entry.provider
    }

    /// How long the provider may go quiet before the request is given up.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.provider().timeout_ms.max(1) as u64)
    }
}

/// Sends `build(deployment)` to each of the route's deployments in turn
/// until one answers. The body is built once per deployment, and retries
/// resend the same bytes.
pub async fn call(
    http: &reqwest::Client,
    catalog: &Catalog,
    route: &Route,
    anthropic_version: Option<&str>,
    build: impl Fn(&Deployment) -> Result<Bytes, GatewayError>,
) -> Result<Answer, GatewayError> {
    let mut last = GatewayError::UpstreamUnavailable;
    for deployment in route.deployments() {
        let Some(entry) = catalog.providers.get(&deployment.provider.name) else {
            continue;
        };
        let body = build(deployment)?;
        let key = entry.api_key.as_deref();
        let endpoint = entry.endpoint.clone();
        for attempt in 0..TRIES_PER_DEPLOYMENT {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            let started = Instant::now();
            match once(
                http,
                deployment,
                endpoint.clone(),
                key,
                anthropic_version,
                body.clone(),
            )
            .await
            {
                Ok(response) => {
                    return Ok(Answer {
                        response,
                        entry: entry.clone(),
                        upstream_latency: started.elapsed(),
                    })
                }
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry(e)) => {
                    tracing::warn!(provider = %deployment.provider.name, error = %e, "upstream attempt failed");
                    metrics::counter!("atrium_upstream_failures_total",
                        "provider" => deployment.provider.name.clone())
                    .increment(1);
                    last = e;
                }
            }
        }
    }
    Err(last)
}

async fn once(
    http: &reqwest::Client,
    deployment: &Deployment,
    endpoint: Option<reqwest::Url>,
    key: Option<&str>,
    anthropic_version: Option<&str>,
    body: Bytes,
) -> Result<reqwest::Response, Attempt> {
    let provider = &deployment.provider;
    let Some(endpoint) = endpoint else {
        return Err(Attempt::Retry(GatewayError::UpstreamUnavailable));
    };
    let mut req = http
        .post(endpoint)
        .timeout(Duration::from_millis(provider.timeout_ms.max(1) as u64))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    req = match provider.kind {
        ProviderKind::Anthropic => {
            let req = req.header(
                "anthropic-version",
                anthropic_version.unwrap_or(ANTHROPIC_VERSION),
            );
            match key {
                Some(k) => req.header("x-api-key", k),
                None => req,
            }
        }
        ProviderKind::Openai => match key {
            Some(k) => req.bearer_auth(k),
            None => req,
        },
    };
    let timeout = Duration::from_millis(provider.timeout_ms.max(1) as u64);
    let response = match tokio::time::timeout(timeout, req.send()).await {
        Err(_) => return Err(Attempt::Retry(GatewayError::UpstreamTimeout)),
        Ok(Err(e)) if e.is_timeout() => return Err(Attempt::Retry(GatewayError::UpstreamTimeout)),
        Ok(Err(_)) => return Err(Attempt::Retry(GatewayError::UpstreamUnavailable)),
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response);
    }
    let message = error_message(response).await;
    match status {
        429 => Err(Attempt::Retry(GatewayError::RateLimited {
            message: format!("upstream rate limit: {message}"),
            retry_after_s: 1,
        })),
        500..=599 => Err(Attempt::Retry(GatewayError::UpstreamUnavailable)),
        // The provider's own credentials or routing are wrong: an operator
        // problem, reported as a gateway fault rather than blamed on the caller.
        401 | 403 | 404 => Err(Attempt::Retry(GatewayError::UpstreamUnavailable)),
        // Redirects are not followed (the credential stays with the
        // provider's host) and not passed on: a misconfigured provider.
        300..=399 => Err(Attempt::Retry(GatewayError::UpstreamUnavailable)),
        _ => Err(Attempt::Final(GatewayError::Upstream { status, message })),
    }
}

/// The provider's error message in either dialect, or a generic one.
async fn error_message(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("upstream answered {status}"))
}

//! Calling providers: one attempt per try, retries with backoff on faults
//! worth retrying, then the next deployment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, Uri};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use super::error::GatewayError;
use super::route::Route;
use crate::domain::catalog::{Deployment, Provider, ProviderKind};
use crate::server::net::provider::{ProviderClient, UpstreamBody};
use crate::server::services::catalog::{Catalog, ProviderEntry};

const ANTHROPIC_VERSION: &str = "2023-06-01";
const TRIES_PER_DEPLOYMENT: u32 = 2;
/// The most of a provider's error body read for its message.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// What a failed attempt means for the next one.
enum Attempt {
    /// Connect errors, timeouts, 429 and 5xx: try again, then elsewhere.
    Retry(GatewayError),
    /// The provider rejected the request itself: no point trying elsewhere.
    Final(GatewayError),
}

pub struct Answer {
    pub response: Response<UpstreamBody>,
    /// The provider that answered, shared with the catalog snapshot.
    pub entry: Arc<ProviderEntry>,
    pub upstream_latency: Duration,
    /// When the provider's timeout ends for this attempt: a whole answer's
    /// body is read by then (headers and body within one timeout).
    pub deadline: tokio::time::Instant,
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
    http: &ProviderClient,
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
                Ok((response, deadline)) => {
                    return Ok(Answer {
                        response,
                        deadline,
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
    http: &ProviderClient,
    deployment: &Deployment,
    endpoint: Option<Uri>,
    key: Option<&str>,
    anthropic_version: Option<&str>,
    body: Bytes,
) -> Result<(Response<UpstreamBody>, tokio::time::Instant), Attempt> {
    let provider = &deployment.provider;
    let Some(endpoint) = endpoint else {
        return Err(Attempt::Retry(GatewayError::UpstreamUnavailable));
    };
    let headers = headers(provider, key, anthropic_version)?;
    let timeout = Duration::from_millis(provider.timeout_ms.max(1) as u64);
    let deadline = tokio::time::Instant::now() + timeout;
    let sent = http.post_json(endpoint, headers, body);
    let response = match tokio::time::timeout_at(deadline, sent).await {
        Err(_) => return Err(Attempt::Retry(GatewayError::UpstreamTimeout)),
        Ok(Err(e)) if e.is_timeout() => return Err(Attempt::Retry(GatewayError::UpstreamTimeout)),
        Ok(Err(_)) => return Err(Attempt::Retry(GatewayError::UpstreamUnavailable)),
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok((response, deadline));
    }
    let message = error_message(response, deadline).await;
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

/// The provider's credential and version headers. A key that cannot be a
/// header value (a control character pasted with it) fails the attempt
/// rather than calling the provider without it.
fn headers(
    provider: &crate::domain::catalog::Provider,
    key: Option<&str>,
    anthropic_version: Option<&str>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Attempt> {
    let mut out = Vec::with_capacity(2);
    // Another deployment may have a usable key: try it.
    let credential = |value: String| {
        let mut v = HeaderValue::try_from(value).map_err(|_| {
            tracing::error!(provider = %provider.name, "the provider's API key is not a valid header value");
            Attempt::Retry(GatewayError::UpstreamUnavailable)
        })?;
        v.set_sensitive(true);
        Ok::<_, Attempt>(v)
    };
    match provider.kind {
        ProviderKind::Anthropic => {
            let version = anthropic_version.unwrap_or(ANTHROPIC_VERSION);
            let version = HeaderValue::from_str(version).map_err(|_| {
                Attempt::Final(GatewayError::Invalid(
                    "anthropic-version: not a valid header value".into(),
                ))
            })?;
            out.push((HeaderName::from_static("anthropic-version"), version));
            if let Some(k) = key {
                out.push((
                    HeaderName::from_static("x-api-key"),
                    credential(k.to_owned())?,
                ));
            }
        }
        ProviderKind::Openai => {
            if let Some(k) = key {
                out.push((
                    http::header::AUTHORIZATION,
                    credential(format!("Bearer {k}"))?,
                ));
            }
        }
    }
    Ok(out)
}

/// The provider's error message in either dialect, or a generic one, from
/// at most `ERROR_BODY_LIMIT` bytes of its body, read by `deadline`: a
/// provider that sends its status and then stalls must not hold the
/// request (and its budget hold) past its timeout.
async fn error_message(response: Response<UpstreamBody>, deadline: tokio::time::Instant) -> String {
    let status = response.status();
    let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT).collect();
    let body: Value = match tokio::time::timeout_at(deadline, body).await {
        Ok(Ok(b)) => serde_json::from_slice(&b.to_bytes()).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("upstream answered {status}"))
}

//! What whole and streamed answers share: the request that reached a
//! provider, and the headers every answer carries. Its own module so the
//! handler, `whole` and `streamed` depend on it, not on each other.

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::response::Response;

use super::dialect::{Dialect, RateInfo};
use super::upstream;
use crate::domain::completion::CompletionRequest;
use crate::domain::time::{now_millis, Millis};
use crate::server::services::api_keys::Authenticated;

/// A request that reached a provider, ready to be answered.
pub struct Called {
    pub auth: Arc<Authenticated>,
    pub request: CompletionRequest,
    pub answer: upstream::Answer,
    pub rate: RateInfo,
    /// When the custom model version it reached stops being served.
    pub deprecation: Option<Millis>,
}

/// The headers every answer carries: rate limits in the dialect's names and
/// the request id.
pub fn finish_headers(res: &mut Response, dialect: Dialect, rate: &RateInfo, request_id: &str) {
    super::dialect::rate_headers(dialect, rate, res.headers_mut());
    super::error::set_request_id(res.headers_mut(), request_id);
}

/// A deprecated custom model version says so on every answer: RFC 9745's
/// `Deprecation` (deprecated now), RFC 8594's `Sunset` (when it stops
/// being served) and a `Warning` a person can read.
pub fn deprecation_headers(res: &mut Response, until: Option<Millis>) {
    let Some(until) = until else { return };
    let h = res.headers_mut();
    let now = now_millis();
    let at = |m: Millis| HeaderValue::from_str(&format!("@{}", m / 1000)).ok();
    if let Some(v) = at(now) {
        h.insert("deprecation", v);
    }
    let sunset = chrono::DateTime::from_timestamp_millis(until)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    if let Some(v) = sunset
        .as_deref()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        h.insert("sunset", v);
    }
    let warning = format!(
        "299 atrium \"this custom model version is deprecated and stops being served at {}\"",
        crate::domain::time::rfc3339(until)
    );
    if let Ok(v) = HeaderValue::from_str(&warning) {
        h.insert("warning", v);
    }
}

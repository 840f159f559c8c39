//! A create as the admin API takes it: the `Idempotency-Key` header, the
//! path and query (what the key is bound to, with the body) and the body,
//! read by one extractor, so each create handler is only its service call.

use std::future::Future;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::caller::Caller;
use super::conventions::{body, json, once};
use super::problem::{ApiResult, Problem};

pub struct Posted {
    headers: HeaderMap,
    target: String,
    bytes: Bytes,
    status: StatusCode,
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let headers = req.headers().clone();
        let uri = req.uri();
        let target = uri
            .path_and_query()
            .map_or(uri.path(), |p| p.as_str())
            .to_string();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            // Over the 2 MB body limit is a 413, not a malformed body.
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(status, "too-large", "Body too large", e.body_text())
            } else {
                Problem::bad_request("body", e.body_text())
            }
        })?;
        Ok(Posted {
            headers,
            target,
            bytes,
            status: StatusCode::CREATED,
        })
    }
}

impl Posted {
    /// Answers `status` instead of 201: for posts that act on something
    /// that exists (a step, an attestation) rather than create it.
    pub fn answering(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Reads the body as `T` and answers 201 (or the status set by
    /// `answering`) with what `make` made, once per `Idempotency-Key` (a
    /// retry gets the first answer again).
    pub async fn create<T, R, E, F, Fut>(self, caller: &Caller, make: F) -> ApiResult<Response>
    where
        T: DeserializeOwned,
        R: Serialize,
        E: Into<Problem>,
        F: FnOnce(T) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let (bytes, status) = (&self.bytes, self.status);
        once(
            caller,
            &self.headers,
            (&self.target, bytes),
            move || async move {
                let input: T = body(bytes)?;
                let made = make(input).await.map_err(Into::into)?;
                Ok((status, json(&made)?))
            },
        )
        .await
    }
}

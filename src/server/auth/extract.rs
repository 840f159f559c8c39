//! The signed-in `Actor` as an axum extractor: the one place a request's
//! session cookie is read. Server functions, exports and sign-out use it.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use super::client::client_ip;
use super::cookie::session_token;
use crate::server::services::{sessions, Actor, ServiceError, Services};

/// The session token in the request's `Cookie` header, if any.
pub fn presented_session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(session_token)
}

/// `Option<Actor>`: `None` for an anonymous visitor or a dead session.
impl<S> OptionalFromRequestParts<S> for Actor
where
    Services: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ServiceError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let svc = Services::from_ref(state);
        let Some(token) = presented_session(&parts.headers) else {
            return Ok(None);
        };
        let ip = client_ip(&parts.headers, &parts.extensions, svc.config.proxies());
        sessions::actor_for_token(&svc, token, &ip).await
    }
}

/// `Actor`: the signed-in user, or 401.
impl<S> FromRequestParts<S> for Actor
where
    Services: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <Actor as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await?
            .ok_or(ServiceError::Unauthenticated)
    }
}

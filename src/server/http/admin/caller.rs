//! Who calls the admin API: a live admin token, turned into the `Actor`
//! every service checks, after the token's rate limit.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::problem::Problem;
use super::AdminState;
use crate::domain::admin_token::AdminToken;
use crate::server::auth::client::client_ip;
use crate::server::services::{admin_tokens, Actor, ServiceError};

pub struct Caller {
    pub token: AdminToken,
    pub actor: Actor,
}

/// The bearer token of a request, if it sent one. LiteLLM's clients send
/// the master key the same way.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl<S> FromRequestParts<S> for Caller
where
    AdminState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let state = AdminState::from_ref(state);
        let svc = &state.services;
        let presented = bearer(parts).ok_or(ServiceError::Unauthenticated)?;
        let ip = client_ip(&parts.headers, &parts.extensions, svc.config.proxies());
        let (token, actor) = admin_tokens::authenticate(svc, presented, Some(ip)).await?;
        state
            .limiter
            .take(&token)
            .await
            .map_err(Problem::rate_limited)?;
        tracing::debug!(admin_token = %token.id, scope = %token.scope, "admin API call");
        Ok(Caller { token, actor })
    }
}

//! Who calls the admin API: a live admin token, turned into the `Actor`
//! every service checks, after the token's rate limit.

use axum::extract::{FromRef, FromRequestParts, OriginalUri};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Method;

use super::problem::Problem;
use super::AdminState;
use crate::domain::admin_token::AdminToken;
use crate::domain::audit::AuditAction;
use crate::server::auth::client::client_ip;
use crate::server::services::audit::{self, Entry};
use crate::server::services::sign_in_throttle::client_prefix;
use crate::server::services::{admin_tokens, Actor, Services};

/// The services travel with the caller, so a handler takes one extractor
/// and makes one service call.
pub struct Caller {
    pub svc: Services,
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
        let ip = client_ip(&parts.headers, &parts.extensions, svc.config.proxies());
        let prefix = client_prefix(&ip);
        let limiter = &state.limiter;
        limiter
            .attempt(&prefix)
            .await
            .map_err(Problem::rate_limited)?;
        let presented = bearer(parts).unwrap_or_default();
        let (token, actor) = admin_tokens::authenticate(svc, presented, Some(ip)).await?;
        limiter.succeeded(&prefix).await;
        limiter.take(&token).await.map_err(Problem::rate_limited)?;
        tracing::debug!(admin_token = %token.id, scope = %token.scope, "admin API call");
        if is_read(&parts.method) {
            let path = match parts.extensions.get::<OriginalUri>() {
                Some(original) => original.path(),
                None => parts.uri.path(),
            };
            audit_read(svc, &token, &actor, path).await?;
        }
        Ok(Caller {
            svc: state.services,
            token,
            actor,
        })
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// Every call is audited with its token: changes by the services they
/// call, reads here (the path says what was read; it is bounded because
/// the client chose it).
async fn audit_read(
    svc: &Services,
    token: &AdminToken,
    actor: &Actor,
    path: &str,
) -> Result<(), Problem> {
    let path = truncate_chars(path, 512);
    let entry = Entry::success(AuditAction::AdminApiRead, "admin_api", &path)
        .tenant_opt(token.tenant_id.as_ref())
        .details(serde_json::json!({ "admin_token": token.id }));
    audit::append(svc, actor, entry).await?;
    Ok(())
}

fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

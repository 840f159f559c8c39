//! Server functions: thin adapters from the portal to `server::services`.
//! Each resolves the signed-in actor, calls one service, and maps errors to
//! a readable message plus the right HTTP status.

pub mod audit;
pub mod catalog;
pub mod keys;
pub mod policies;
pub mod session;
pub mod tenants;
pub mod users;

use leptos::prelude::ServerFnError;

/// The message to show a person, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use axum::http::{header, request::Parts, StatusCode};
    use leptos::prelude::{use_context, ServerFnError};

    use crate::domain::validation::Invalid;
    use crate::server::auth::{cookie, session};
    use crate::server::http::client::client_ip;
    use crate::server::services::{Actor, ServiceError, Services};

    pub fn invalid(e: Invalid) -> ServerFnError {
        fail(ServiceError::Invalid(e))
    }

    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<Services>().ok_or_else(|| ServerFnError::new("server is not ready"))
    }

    /// The signed-in user, or a 401.
    pub async fn actor() -> Result<(Services, Actor), ServerFnError> {
        let svc = services()?;
        match current_actor(&svc).await.map_err(fail)? {
            Some(actor) => Ok((svc, actor)),
            None => Err(fail(ServiceError::Unauthenticated)),
        }
    }

    pub async fn current_actor(svc: &Services) -> Result<Option<Actor>, ServiceError> {
        let Some(parts) = use_context::<Parts>() else {
            return Ok(None);
        };
        let ip = client_ip(&parts.headers, &parts.extensions, svc.config.trust_proxy);
        let token = parts
            .headers
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(cookie::session_token);
        match token {
            Some(token) => session::actor_for_token(svc, token, &ip).await,
            None => Ok(None),
        }
    }

    /// Sets the response status and turns the error into a message fit for
    /// a person; internal details stay in the log.
    pub fn fail(e: ServiceError) -> ServerFnError {
        if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        if e.http_status() >= 500 {
            tracing::error!(error = ?e, "portal request failed");
        }
        ServerFnError::ServerError(e.to_string())
    }
}

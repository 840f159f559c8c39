//! Server functions: thin adapters from the portal to `server::services`.
//! Each resolves the signed-in actor, calls one service, and maps errors to
//! a readable message plus the right HTTP status.

pub mod account;
pub mod admin_tokens;
pub mod audit;
pub mod billing;
pub mod budgets;
pub mod catalog;
pub mod compliance;
pub mod custom_models;
pub mod flags;
pub mod invoices;
pub mod keys;
pub mod operations;
pub mod policies;
pub mod session;
pub mod tenants;
pub mod usage;
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
    use axum::http::request::Parts;
    use axum::http::{header, Method, StatusCode};
    use leptos::prelude::{use_context, ServerFnError};

    use crate::domain::flash::Flash;
    use crate::domain::validation::Invalid;
    use crate::server::auth::extract::presented_session;
    use crate::server::services::flash::{self, PendingFlash};
    use crate::server::services::{Actor, ServiceError, Services};

    pub fn invalid(e: Invalid) -> ServerFnError {
        fail(ServiceError::Invalid(e))
    }

    /// A tenant id from a form or URL, checked before any service sees it.
    pub fn parse_tenant(raw: &str) -> Result<crate::domain::tenant::TenantId, ServerFnError> {
        crate::domain::tenant::TenantId::parse(raw).map_err(invalid)
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

    /// The signed-in user, if any, read by the `Actor` extractor.
    pub async fn current_actor(svc: &Services) -> Result<Option<Actor>, ServiceError> {
        // Outside a request (no parts to read), nobody is signed in.
        if use_context::<Parts>().is_none() {
            return Ok(None);
        }
        leptos_axum::extract_with_state::<Option<Actor>, _>(svc)
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Whether this server function was called by a form posted without
    /// JavaScript: the browser is then redirected back to the page, and the
    /// outcome travels as a one-time flash.
    fn plain_form_post() -> bool {
        use_context::<Parts>().is_some_and(|p| {
            // A page rendered on the server calls server functions too, with
            // the page's own GET: only a POST to the function itself counts.
            p.method == Method::POST
                && p.uri.path().starts_with("/api/")
                && p.headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
        })
    }

    /// Keeps `flash` for the next page of a form posted without JavaScript
    /// (stored when the response is made, see `http::flash`); does nothing
    /// for calls from the running app, which show the outcome themselves.
    pub fn flash(_svc: &Services, flash: Flash) {
        if !plain_form_post() {
            return;
        }
        let pending =
            use_context::<Parts>().and_then(|p| p.extensions.get::<PendingFlash>().cloned());
        match pending {
            Some(pending) => pending.set(flash),
            None => tracing::warn!("a form post without a flash slot; its outcome is not shown"),
        }
    }

    /// The flash waiting for this session, once.
    pub async fn take_flash(svc: &Services) -> Result<Option<Flash>, ServiceError> {
        let Some(parts) = use_context::<Parts>() else {
            return Ok(None);
        };
        match presented_session(&parts.headers) {
            Some(token) => flash::take(svc, token).await,
            None => Ok(None),
        }
    }

    /// Sets the response status and turns the error into a message fit for
    /// a person; internal details stay in the log. A form posted without
    /// JavaScript gets the message as a flash on the page it returns to.
    pub fn fail(e: ServiceError) -> ServerFnError {
        if e.http_status() >= 500 {
            tracing::error!(error = ?e, "portal request failed");
        }
        let message = e.to_string();
        // A post from no session gets its answer, not a stored flash: only
        // signed-in people can leave rows behind.
        let signed_in = !matches!(e, ServiceError::Unauthenticated);
        match (plain_form_post() && signed_in, services()) {
            (true, Ok(svc)) => flash(&svc, Flash::error(message.clone())),
            _ => {
                if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
                    let status = StatusCode::from_u16(e.http_status())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    opts.set_status(status);
                }
            }
        }
        ServerFnError::ServerError(message)
    }
}

//! Sign-in and sign-out as plain form posts: they work before any wasm has
//! loaded and always end in a full page load with the new session.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::server::auth::client::Client;
use crate::server::auth::cookie;
use crate::server::auth::extract::presented_session;
use crate::server::services::{sessions, ServiceError};

use super::AppState;

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    /// The one-time code, for users with MFA.
    #[serde(default)]
    code: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: Client,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return Redirect::to("/login?error=invalid").into_response();
    };
    let (svc, code) = (&state.services, &form.code);
    match sessions::sign_in(svc, &form.email, &form.password, code, &client.ip).await {
        Ok(signed) => {
            let cookie = cookie::set_session(&signed.token, signed.max_age_secs, client.https);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login?error=invalid").into_response(),
        Err(ServiceError::MfaRequired(_)) => Redirect::to("/login?error=mfa").into_response(),
        Err(ServiceError::TooManyAttempts(_)) => {
            Redirect::to("/login?error=throttled").into_response()
        }
        Err(ServiceError::Unavailable(_)) => Redirect::to("/login?error=busy").into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = presented_session(&headers) {
        if let Err(e) = sessions::sign_out(&state.services, token, &client.ip).await {
            tracing::error!(error = ?e, "sign-out failed");
        }
    }
    (
        [(header::SET_COOKIE, cookie::clear_session(client.https))],
        Redirect::to("/login"),
    )
        .into_response()
}

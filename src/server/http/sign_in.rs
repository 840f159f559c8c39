//! Sign-in and sign-out as plain form posts: they work before any wasm has
//! loaded and always end in a full page load with the new session.

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::server::auth::{cookie, session};
use crate::server::services::ServiceError;

use super::client::{client_ip, is_https};
use super::AppState;

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

pub async fn sign_in(State(state): State<AppState>, req: Request) -> Response {
    let svc = &state.services;
    let (parts, body) = req.into_parts();
    let ip = client_ip(&parts.headers, &parts.extensions, svc.config.trust_proxy);
    let secure = is_https(
        &parts.headers,
        svc.config.trust_proxy,
        svc.config.secure_cookies(),
    );
    let req = Request::from_parts(parts, body);
    let Ok(Form(form)) = Form::<SignInForm>::from_request(req, &()).await else {
        return Redirect::to("/login?error=invalid").into_response();
    };
    match session::sign_in(svc, &form.email, &form.password, &ip).await {
        Ok(signed) => {
            let cookie = cookie::set_session(&signed.token, signed.max_age_secs, secure);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(ServiceError::Unauthenticated) => Redirect::to("/login?error=invalid").into_response(),
        Err(ServiceError::TooManyAttempts(_)) => {
            Redirect::to("/login?error=throttled").into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "sign-in failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "sign-in is unavailable").into_response()
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, req: Request) -> Response {
    let svc = &state.services;
    let headers: &HeaderMap = req.headers();
    let ip = client_ip(headers, req.extensions(), svc.config.trust_proxy);
    let secure = is_https(headers, svc.config.trust_proxy, svc.config.secure_cookies());
    let token = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(cookie::session_token);
    if let Some(token) = token {
        if let Err(e) = session::sign_out(svc, token, &ip).await {
            tracing::error!(error = ?e, "sign-out failed");
        }
    }
    (
        [(header::SET_COOKIE, cookie::clear_session(secure))],
        Redirect::to("/login"),
    )
        .into_response()
}

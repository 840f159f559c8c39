//! Stores the flash a form post set, before its redirect leaves: the page
//! the browser lands on may be served by another replica, which reads it
//! from the database.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::server::auth::extract::presented_session;
use crate::server::services::flash::{self, PendingFlash};
use crate::server::services::Services;

pub async fn keep(State(svc): State<Services>, mut req: Request, next: Next) -> Response {
    let is_form_post = req.method() == Method::POST && req.uri().path().starts_with("/api/");
    let token = presented_session(req.headers()).map(str::to_string);
    let (Some(token), true) = (token, is_form_post) else {
        return next.run(req).await;
    };
    let pending = PendingFlash::default();
    req.extensions_mut().insert(pending.clone());
    let res = next.run(req).await;
    if let Some(shown) = pending.take() {
        if let Err(e) = flash::put(&svc, &token, &shown).await {
            tracing::warn!(error = %e, "a form's outcome could not be kept for its next page");
        }
    }
    res
}

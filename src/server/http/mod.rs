//! The HTTP face: one axum router serving the gateway's completion and
//! OFREP routes, the admin API, the portal, its server functions, sign-in,
//! and the operational endpoints (`/metrics` among them).

pub mod admin;
pub mod downloads;
pub mod error;
pub mod export;
pub mod flash;
pub mod litellm;
pub mod ops;
pub mod sign_in;
pub mod state;

use axum::routing::{get, post};
use axum::{middleware, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::trace::TraceLayer;

use crate::app::{shell, App};
use crate::server::auth::origin::require_same_origin;

pub use state::AppState;

/// The portal's routes, generated once per process. Generating them runs
/// the app with resource loading suppressed through a process-wide flag
/// (leptos_server's `SuppressResourceLoad`): a page rendering on another
/// server of the same process at that moment (a second replica, the test
/// suite's parallel servers) would see its resources never load and its
/// response never end (leptos issue #4773). Once per process, before any
/// server exists, nothing can render during it.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState, gateway: crate::server::gateway::Gateway) -> Router {
    let svc = state.services.clone();
    let hsts = svc.config.secure_cookies();
    let limiter = std::sync::Arc::new(admin::TokenLimiter::new(gateway.limiter.redis()));
    let admin_api = admin::router(svc.clone(), limiter.clone());
    let litellm_api = litellm::router(svc.clone(), limiter);
    // The completion API, OFREP, the admin API and /metrics sit outside the
    // portal's own layers (flash messages, server-function errors, the
    // same-origin check): each of those only acts on portal paths, and on
    // the gateway's hot path each was a boxed future per request for nothing.
    let mut router = portal(state.clone())
        .merge(crate::server::gateway::routes(gateway.clone()))
        .merge(ops::public_metrics_routes(gateway))
        .nest_service(admin::BASE, admin_api);
    for path in litellm::PATHS {
        router = router.route_service(path, litellm_api.clone());
    }
    router
        .layer(middleware::from_fn(move |req, next| {
            ops::security_headers(hsts, req, next)
        }))
        .layer(TraceLayer::new_for_http().make_span_with(ops::request_span))
        .layer(middleware::from_fn(crate::server::request_id::assign))
        .with_state(state)
}

/// The portal: its pages, server functions (leptos_routes_with_context
/// mounts them under /api), sign-in, downloads and the site's files.
fn portal(state: AppState) -> Router<AppState> {
    let svc = state.services.clone();
    let svc_for_flash = svc.clone();
    let context = move || provide_context(svc.clone());
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/auth/sign-in", post(sign_in::sign_in))
        .route("/auth/sign-out", post(sign_in::sign_out))
        .route("/audit/export", post(export::audit_export))
        .route(
            "/tenants/{id}/invoices/{month}/download",
            get(downloads::invoice),
        )
        .route("/tenants/{id}/usage/download", get(downloads::usage))
        .route(
            "/compliance/reports/{id}",
            get(downloads::compliance_report),
        )
        .leptos_routes_with_context(&state, route_list(), context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(svc_for_flash, flash::keep))
        .layer(middleware::from_fn(error::bad_arguments_are_400))
        .layer(middleware::from_fn(require_same_origin))
}

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::services::Services;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
}

//! Atrium: a multi-tenant AI gateway and admin portal in one binary.
//!
//! `domain` is pure and compiles everywhere; `server` holds all I/O and exists
//! only with the `ssr` feature; `app` is the Leptos UI, shared by both sides.
#![recursion_limit = "256"]

pub mod app;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

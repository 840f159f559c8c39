use leptos::prelude::*;

/// A coloured word for a state: active, suspended, revoked, failure, …
#[component]
pub fn Badge(text: String) -> impl IntoView {
    let class = format!("badge badge-{text}");
    view! { <span class=class>{text}</span> }
}

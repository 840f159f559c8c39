use leptos::prelude::*;

use crate::app::api::error_text;

/// An error from a server function, worded for a person. A 403 reads as
/// a refusal, not as a crash.
#[component]
pub fn ErrorBox(error: ServerFnError) -> impl IntoView {
    let text = error_text(&error);
    let forbidden = text.contains("permission");
    view! {
        <div class="flash error" role="alert">
            {forbidden.then(|| view! { <strong>"403 Forbidden. "</strong> })}
            {text}
        </div>
    }
}

/// The outcome of the last form submission: its error, or a success note.
pub fn outcome<T>(
    result: Option<Result<T, ServerFnError>>,
    success: impl FnOnce(&T) -> String,
) -> Option<AnyView> {
    result.map(|r| match r {
        Ok(v) => view! { <div class="flash success" role="status">{success(&v)}</div> }.into_any(),
        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
    })
}

//! The tenant picker every page with a tenant filter or field uses: a
//! plain `<select name="tenant">`, so the form posts (or filters) before
//! the wasm loads.

use leptos::prelude::*;

/// `options` are (id, name) pairs; the first option, labelled `none`, has
/// an empty value (the platform, or all tenants, as the page means it).
#[component]
pub fn TenantSelect(
    options: Vec<(String, String)>,
    #[prop(into)] selected: String,
    none: &'static str,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let none_selected = selected.is_empty();
    let options = options
        .into_iter()
        .map(|(id, name)| {
            let sel = id == selected;
            view! { <option value=id selected=sel>{name}</option> }
        })
        .collect_view();
    view! {
        <select name="tenant" aria-label="tenant" data-testid=testid>
            <option value="" selected=none_selected>{none}</option>
            {options}
        </select>
    }
}

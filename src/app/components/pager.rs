use leptos::prelude::*;

/// Previous/next links that keep the rest of the query, so a paged view
/// can be shared and reloaded.
#[component]
pub fn Pager(page: u32, page_count: u32, total: i64, base_query: String) -> impl IntoView {
    let link = move |p: u32| {
        if base_query.is_empty() {
            format!("?page={p}")
        } else {
            format!("?{base_query}&page={p}")
        }
    };
    view! {
        <nav class="pager" aria-label="pages">
            <span class="muted">{format!("{total} total · page {page} of {page_count}")}</span>
            {(page > 1).then(|| view! { <a href=link(page - 1) rel="prev">"← Previous"</a> })}
            {(page < page_count).then(|| view! { <a href=link(page + 1) rel="next">"Next →"</a> })}
        </nav>
    }
}

/// `key=value` pairs, URL-encoded, for building page links.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `page` query parameter, 1 when absent or not a number.
pub fn page_number(query: &leptos_router::params::ParamsMap) -> u32 {
    query
        .get("page")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1)
}

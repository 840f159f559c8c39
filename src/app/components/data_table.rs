//! The one table every list uses: headings (sortable ones are links that
//! keep the rest of the query), the rows, an empty state, and the pager for
//! lists paged on the server.

use leptos::prelude::*;

use super::pager::Pager;
use crate::domain::page::SortDir;

/// One heading; `sort` is the key the list sorts by when it is clicked.
#[derive(Clone, Copy)]
pub struct Column {
    pub label: &'static str,
    pub sort: Option<&'static str>,
}

impl Column {
    pub const fn plain(label: &'static str) -> Self {
        Self { label, sort: None }
    }

    pub const fn sorted_by(label: &'static str, key: &'static str) -> Self {
        Self {
            label,
            sort: Some(key),
        }
    }
}

/// How the list is sorted now, and the rest of its query (filters).
#[derive(Clone)]
pub struct Sorting {
    pub key: String,
    pub dir: SortDir,
    pub base_query: String,
}

/// Where a server-paged list is.
#[derive(Clone)]
pub struct Paging {
    pub page: u32,
    pub page_count: u32,
    pub total: i64,
    pub base_query: String,
}

#[component]
pub fn DataTable(
    columns: Vec<Column>,
    rows: Vec<AnyView>,
    #[prop(default = "Nothing here yet.")] empty: &'static str,
    #[prop(optional)] sorting: Option<Sorting>,
    #[prop(optional)] paging: Option<Paging>,
    #[prop(optional)] testid: Option<&'static str>,
    #[prop(optional)] class: Option<&'static str>,
) -> impl IntoView {
    let width = columns.len().to_string();
    let body = if rows.is_empty() {
        view! { <tr class="empty"><td colspan=width>{empty}</td></tr> }.into_any()
    } else {
        rows.into_iter().collect_view().into_any()
    };
    let class = match class {
        Some(extra) => format!("data {extra}"),
        None => "data".to_string(),
    };
    view! {
        <table class=class data-testid=testid>
            <thead><tr>
                {columns.into_iter().map(|c| view! { <Heading column=c sorting=sorting.clone()/> }).collect_view()}
            </tr></thead>
            <tbody>{body}</tbody>
        </table>
        {paging.map(|p| view! {
            <Pager page=p.page page_count=p.page_count total=p.total base_query=p.base_query/>
        })}
    }
}

#[component]
fn Heading(column: Column, sorting: Option<Sorting>) -> impl IntoView {
    let (Some(key), Some(sorting)) = (column.sort, sorting) else {
        return view! { <th>{column.label}</th> }.into_any();
    };
    let current = sorting.key == key;
    // A second click on the current column reverses it.
    let dir = if current {
        sorting.dir.flip()
    } else {
        SortDir::Asc
    };
    let sort = format!("sort={key}&dir={}", dir.as_str());
    let href = if sorting.base_query.is_empty() {
        format!("?{sort}")
    } else {
        format!("?{}&{sort}", sorting.base_query)
    };
    let (arrow, aria) = match (current, sorting.dir) {
        (false, _) => ("", "none"),
        (true, SortDir::Asc) => (" ▲", "ascending"),
        (true, SortDir::Desc) => (" ▼", "descending"),
    };
    view! {
        <th aria-sort=aria><a href=href>{column.label}{arrow}</a></th>
    }
    .into_any()
}

use crate::app::components::tenant_select::TenantSelect;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::app::api::audit::{get_audit_event, search_audit};
use crate::app::api::tenants::tenant_options;
use crate::app::components::data_table::{Column, DataTable, Paging};
use crate::app::components::flash::ErrorBox;
use crate::app::components::pager::{page_number, query_string};
use crate::app::components::status::Badge;
use crate::domain::audit::{AuditQuery, AuditRow, Named};
use crate::domain::time::{format_millis, rfc3339};

const FILTERS: [&str; 8] = [
    "tenant", "actor", "action", "resource", "status", "from", "to", "q",
];

const COLUMNS: [Column; 7] = [
    Column::plain("When"),
    Column::plain("Actor"),
    Column::plain("Action"),
    Column::plain("Tenant"),
    Column::plain("Resource"),
    Column::plain("Status"),
    Column::plain("Details"),
];

fn query_from(get: impl Fn(&str) -> String) -> AuditQuery {
    AuditQuery {
        tenant_id: get("tenant"),
        actor: get("actor"),
        action: get("action"),
        resource: get("resource"),
        status: get("status"),
        from: get("from"),
        to: get("to"),
        text: get("q"),
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let page = move || page_number(&query.read());
    let events = Resource::new(
        move || (query_from(get), page()),
        |(q, p)| search_audit(q, p),
    );
    let tenants = Resource::new(|| (), |_| tenant_options());
    view! {
        <Title text="Audit log"/>
        <h1>"Audit log"</h1>
        <form class="filters" method="get" action="/audit" data-testid="audit-filters">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let selected = get("tenant");
                    let options = tenants.await.unwrap_or_default();
                    view! {
                        <TenantSelect options selected none="All tenants"/>
                    }
                })}
            </Suspense>
            <input name="q" placeholder="search text" aria-label="search text" prop:value=move || get("q")/>
            <input name="actor" placeholder="actor (email, cli, gateway)" prop:value=move || get("actor")/>
            <input name="action" placeholder="action, e.g. policy.block" prop:value=move || get("action")/>
            <input name="resource" placeholder="resource type or id" prop:value=move || get("resource")/>
            <select name="status" aria-label="status">
                {["", "success", "failure", "denied"].into_iter().map(|s| {
                    let label = if s.is_empty() { "any status" } else { s };
                    view! { <option value=s selected=move || get("status") == s>{label}</option> }
                }).collect_view()}
            </select>
            <label>"From " <input type="date" name="from" prop:value=move || get("from")/></label>
            <label>"To " <input type="date" name="to" prop:value=move || get("to")/></label>
            <button type="submit">"Search"</button>
        </form>
        <ExportForm get/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(p) => {
                        let values: Vec<(&str, String)> = FILTERS.iter().map(|k| (*k, get(k))).collect();
                        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        let paging = Paging {
                            page: p.page,
                            page_count: p.page_count(),
                            total: p.total,
                            base_query: query_string(&pairs),
                        };
                        let rows = p.items.into_iter().map(|row| view! { <AuditTableRow row/> }.into_any()).collect();
                        view! {
                            <DataTable columns=COLUMNS.to_vec() rows paging testid="audit-results"
                                empty="No events match these filters."/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTableRow(row: AuditRow) -> impl IntoView {
    let e = row.event;
    view! {
        <tr>
            <td><a href=format!("/audit/{}", e.id)>{format_millis(e.at)}</a></td>
            <td title=e.actor>{row.actor.label}</td>
            <td><code>{e.action}</code></td>
            <td>{row.tenant.map(|t| view! { <NamedLink named=t/> })}</td>
            <td><span class="muted">{e.resource_type}</span> " " <NamedLink named=row.resource/></td>
            <td><Badge text=e.status.as_str().to_string()/></td>
            <td><DetailList pairs=row.details/></td>
        </tr>
    }
}

/// A name, linked to its page when it has one.
#[component]
fn NamedLink(named: Named) -> impl IntoView {
    match named.href {
        Some(href) => view! { <a href=href>{named.label}</a> }.into_any(),
        None => view! { <span>{named.label}</span> }.into_any(),
    }
}

#[component]
fn DetailList(pairs: Vec<(String, String)>) -> impl IntoView {
    view! {
        <dl class="details">
            {pairs.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
        </dl>
    }
}

/// A download of one tenant's events: a plain GET, so the browser streams it.
#[component]
fn ExportForm(get: impl Fn(&str) -> String + Copy + Send + Sync + 'static) -> impl IntoView {
    view! {
        <form class="filters export" method="post" action="/audit/export" data-testid="audit-export">
            <span>"Export the selected tenant's events"</span>
            <input type="hidden" name="tenant" prop:value=move || get("tenant")/>
            <input type="hidden" name="from" prop:value=move || get("from")/>
            <input type="hidden" name="to" prop:value=move || get("to")/>
            <select name="format" aria-label="format">
                <option value="csv">"CSV"</option>
                <option value="json">"JSON"</option>
            </select>
            <button type="submit" disabled=move || get("tenant").is_empty()>"Export"</button>
        </form>
    }
}

#[component]
pub fn AuditEventPage() -> impl IntoView {
    let params = use_params_map();
    let event = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        get_audit_event,
    );
    view! {
        <Title text="Audit event"/>
        <p><a href="/audit">"← Audit log"</a></p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match event.await {
                    Ok(e) => {
                        let details = serde_json::from_str::<serde_json::Value>(&e.details)
                            .and_then(|v| serde_json::to_string_pretty(&v))
                            .unwrap_or(e.details.clone());
                        view! {
                            <h1><code>{e.action.clone()}</code> " " <Badge text=e.status.as_str().to_string()/></h1>
                            <dl class="facts" data-testid="audit-event">
                                <dt>"Id"</dt><dd><code>{e.id.clone()}</code></dd>
                                <dt>"When"</dt><dd>{rfc3339(e.at)}</dd>
                                <dt>"Actor"</dt><dd>{e.actor.clone()}</dd>
                                <dt>"Address"</dt><dd>{e.client_ip.clone().unwrap_or_default()}</dd>
                                <dt>"Resource"</dt><dd>{format!("{} {}", e.resource_type, e.resource_id.clone().unwrap_or_default())}</dd>
                                <dt>"Tenant"</dt><dd>{e.tenant_id.as_ref().map_or_else(|| "—".to_string(), |t| t.to_string())}</dd>
                                <dt>"Chain"</dt><dd>{format!("{} #{}", e.chain, e.chain_seq)}</dd>
                                <dt>"Hash"</dt><dd><code>{e.hash.clone()}</code></dd>
                            </dl>
                            <h2>"Details"</h2>
                            <pre class="details">{details}</pre>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

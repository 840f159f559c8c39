use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::audit::list_audit;
use crate::app::api::tenants::tenant_options;
use crate::app::components::flash::ErrorBox;
use crate::app::components::pager::{page_number, query_string, Pager};
use crate::app::components::status::Badge;
use crate::domain::time::format_millis;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let page = move || page_number(&query.read());
    let events = Resource::new(
        move || (get("tenant"), get("action"), page()),
        |(t, a, p)| list_audit(t, a, p),
    );
    let tenants = Resource::new(|| (), |_| tenant_options());
    view! {
        <Title text="Audit log"/>
        <h1>"Audit log"</h1>
        <form class="filters" method="get" action="/audit">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let selected = get("tenant");
                    let options = tenants.await.unwrap_or_default();
                    view! {
                        <select name="tenant">
                            <option value="">"All tenants"</option>
                            {options.into_iter().map(|(id, name)| {
                                let sel = id == selected;
                                view! { <option value=id selected=sel>{name}</option> }
                            }).collect_view()}
                        </select>
                    }
                })}
            </Suspense>
            <input name="action" placeholder="action, e.g. tenant.create" prop:value=move || get("action")/>
            <button type="submit">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(p) => {
                        let base = query_string(&[("tenant", &get("tenant")), ("action", &get("action"))]);
                        let (pg, count, total) = (p.page, p.page_count(), p.total);
                        view! {
                            <table class="data">
                                <thead><tr>
                                    <th>"When"</th><th>"Actor"</th><th>"Action"</th><th>"Resource"</th>
                                    <th>"Status"</th><th>"Address"</th><th>"Details"</th>
                                </tr></thead>
                                <tbody>
                                    {p.items.into_iter().map(|e| view! {
                                        <tr>
                                            <td>{format_millis(e.at)}</td>
                                            <td>{e.actor}</td>
                                            <td><code>{e.action}</code></td>
                                            <td>{format!("{} {}", e.resource_type, e.resource_id.unwrap_or_default())}</td>
                                            <td><Badge text=e.status.as_str().to_string()/></td>
                                            <td>{e.client_ip.unwrap_or_default()}</td>
                                            <td><code class="details">{e.details}</code></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page=pg page_count=count total base_query=base/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

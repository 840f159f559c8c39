use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::tenants::{list_tenants, CreateTenant};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::pager::{page_number, query_string, Pager};
use crate::app::components::status::Badge;
use crate::domain::tenant::{IsolationLevel, DEFAULT_REGION, DEFAULT_RPM, DEFAULT_TPM};
use crate::domain::time::format_millis;

#[component]
pub fn TenantsPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || page_number(&query.read());
    let create = ServerAction::<CreateTenant>::new();
    let tenants = Resource::new(
        move || (search(), page(), create.version().get()),
        |(q, p, _)| list_tenants(q, p),
    );
    view! {
        <Title text="Tenants"/>
        <h1>"Tenants"</h1>
        <form class="filters" method="get" action="/tenants">
            <input type="search" name="q" placeholder="Search by name" prop:value=search/>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tenants.await {
                    Ok(p) => {
                        let base = query_string(&[("q", &search())]);
                        let (page, count, total) = (p.page, p.page_count(), p.total);
                        view! {
                            <table class="data">
                                <thead><tr>
                                    <th>"Name"</th><th>"Status"</th><th>"Isolation"</th>
                                    <th>"Region"</th><th>"Limits"</th><th>"Created"</th>
                                </tr></thead>
                                <tbody>
                                    {p.items.into_iter().map(|t| view! {
                                        <tr>
                                            <td><a href=format!("/tenants/{}", t.id)>{t.name.clone()}</a></td>
                                            <td><Badge text=t.status.as_str().to_string()/></td>
                                            <td>{t.isolation.as_str()}</td>
                                            <td>{t.data_location.clone()}</td>
                                            <td>{format!("{} rpm · {} tpm", t.rpm_limit, t.tpm_limit)}</td>
                                            <td>{format_millis(t.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager page page_count=count total base_query=base/>
                            <CreateTenantForm action=create/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CreateTenantForm(action: ServerAction<CreateTenant>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"New tenant"</h2>
            {move || outcome(action.value().get(), |t| format!("Created tenant {}.", t.name))}
            <ActionForm action=action attr:class="grid-form">
                <label>"Name" <input name="name" required minlength="2" maxlength="64"/></label>
                <label>"Isolation"
                    <select name="isolation">
                        {IsolationLevel::ALL.into_iter().map(|l| view! {
                            <option value=l.as_str()>{l.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Data location" <input name="data_location" value=DEFAULT_REGION required/></label>
                <label>"Requests / minute" <input name="rpm_limit" type="number" min="1" value=DEFAULT_RPM.to_string()/></label>
                <label>"Tokens / minute" <input name="tpm_limit" type="number" min="1" value=DEFAULT_TPM.to_string()/></label>
                <button type="submit" class="primary">"Create tenant"</button>
            </ActionForm>
        </section>
    }
}

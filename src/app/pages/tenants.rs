use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::tenants::{list_tenants, CreateTenant};
use crate::app::components::data_table::{Column, DataTable, Paging, Sorting};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::pager::{page_number, query_string};
use crate::app::components::status::Badge;
use crate::domain::page::SortDir;
use crate::domain::tenant::{
    IsolationLevel, Tenant, TenantSort, DEFAULT_REGION, DEFAULT_RPM, DEFAULT_TPM,
};
use crate::domain::time::format_millis;

const COLUMNS: [Column; 6] = [
    Column::sorted_by("Name", "name"),
    Column::plain("Status"),
    Column::plain("Isolation"),
    Column::plain("Region"),
    Column::plain("Limits"),
    Column::sorted_by("Created", "created"),
];

#[component]
pub fn TenantsPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let page = move || page_number(&query.read());
    let create = ServerAction::<CreateTenant>::new();
    let tenants = Resource::new(
        move || {
            (
                get("q"),
                page(),
                get("sort"),
                get("dir"),
                create.version().get(),
            )
        },
        |(q, p, sort, dir, _)| list_tenants(q, p, sort, dir),
    );
    view! {
        <Title text="Tenants"/>
        <h1>"Tenants"</h1>
        <form class="filters" method="get" action="/tenants">
            <input type="search" name="q" placeholder="Search by name" prop:value=move || get("q")/>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tenants.await {
                    Ok(p) => {
                        let sort = TenantSort::parse(&get("sort"));
                        let dir = SortDir::parse(&get("dir"));
                        let filters = query_string(&[("q", &get("q"))]);
                        let paging = Paging {
                            page: p.page,
                            page_count: p.page_count(),
                            total: p.total,
                            base_query: query_string(&[
                                ("q", &get("q")),
                                ("sort", sort.as_str()),
                                ("dir", dir.as_str()),
                            ]),
                        };
                        let sorting = Sorting { key: sort.as_str().into(), dir, base_query: filters };
                        let rows = p.items.into_iter().map(|t| view! { <TenantRow tenant=t/> }.into_any()).collect();
                        view! {
                            <DataTable columns=COLUMNS.to_vec() rows sorting paging testid="tenants"
                                empty="No tenants match."/>
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
fn TenantRow(tenant: Tenant) -> impl IntoView {
    let t = tenant;
    view! {
        <tr>
            <td><a href=format!("/tenants/{}", t.id)>{t.name.clone()}</a></td>
            <td><Badge text=t.status.as_str().to_string()/></td>
            <td>{t.isolation.as_str()}</td>
            <td>{t.data_location.clone()}</td>
            <td>{format!("{} rpm · {} tpm", t.rpm_limit, t.tpm_limit)}</td>
            <td>{format_millis(t.created_at)}</td>
        </tr>
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

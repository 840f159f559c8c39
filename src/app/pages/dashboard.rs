use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::audit::search_audit;
use crate::app::api::tenants::dashboard_counts;
use crate::app::components::flash::ErrorBox;
use crate::domain::time::format_millis;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let counts = Resource::new(|| (), |_| dashboard_counts());
    let recent = Resource::new(|| (), |_| search_audit(Default::default(), 1));
    view! {
        <Title text="Dashboard"/>
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match counts.await {
                    Ok(c) => view! {
                        <section class="cards">
                            <div class="card stat"><span class="num">{c.tenants}</span>"tenants"</div>
                            <div class="card stat"><span class="num">{c.active_tenants}</span>"active tenants"</div>
                            <div class="card stat"><span class="num">{c.active_keys}</span>"active API keys"</div>
                            <div class="card stat"><span class="num">{c.users}</span>"users"</div>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Recent activity"</h2>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                // Tenant viewers have no audit access; the cards above are their view.
                recent.await.ok().map(|page| view! {
                    <table class="data">
                        <thead><tr><th>"When"</th><th>"Actor"</th><th>"Action"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {page.items.into_iter().take(10).map(|e| view! {
                                <tr>
                                    <td>{format_millis(e.at)}</td>
                                    <td>{e.actor}</td>
                                    <td><code>{e.action}</code></td>
                                    <td>{e.status.as_str()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })
            })}
        </Suspense>
    }
}

use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::audit::search_audit;
use crate::app::api::tenants::{dashboard_counts, dead_letter_count};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::ErrorBox;
use crate::app::pages::layout::MeResource;
use crate::domain::time::format_millis;

const RECENT: [Column; 4] = [
    Column::plain("When"),
    Column::plain("Actor"),
    Column::plain("Action"),
    Column::plain("Status"),
];

#[component]
pub fn DashboardPage() -> impl IntoView {
    let counts = Resource::new(|| (), |_| dashboard_counts());
    let me = expect_context::<MeResource>();
    // Tenant viewers have no audit access: their page does not ask.
    let recent = Resource::new(
        || (),
        move |_| async move {
            let may = me.await.ok().flatten().is_some_and(|m| m.can_read_audit());
            if may {
                search_audit(Default::default(), 1).await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    // Only platform admins see the write-behind queues' health.
    let dead = Resource::new(
        || (),
        move |_| async move {
            let admin = me
                .await
                .ok()
                .flatten()
                .is_some_and(|m| m.is_platform_admin());
            if admin {
                dead_letter_count().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
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
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                dead.await.ok().flatten().map(|n| {
                    let class = if n > 0 { "card stat warn" } else { "card stat" };
                    view! {
                        <section class="cards" data-testid="health">
                            <div class=class>
                                <span class="num" data-testid="dead-letters">{n}</span>
                                "dead letters (refused writes kept for review)"
                            </div>
                        </section>
                    }
                })
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                recent.await.ok().flatten().map(|page| {
                    let rows = page.items.into_iter().take(10).map(|r| {
                        let e = r.event;
                        view! {
                            <tr>
                                <td>{format_millis(e.at)}</td>
                                <td>{e.actor}</td>
                                <td><code>{e.action}</code></td>
                                <td>{e.status.as_str()}</td>
                            </tr>
                        }.into_any()
                    }).collect();
                    view! {
                        <h2>"Recent activity"</h2>
                        <DataTable columns=RECENT.to_vec() rows empty="No activity yet."/>
                    }
                })
            })}
        </Suspense>
    }
}

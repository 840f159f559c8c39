use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::audit::search_audit;
use crate::app::api::tenants::{dashboard_home, dead_letter_count};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::ErrorBox;
use crate::app::pages::layout::MeResource;
use crate::domain::budget::BudgetStatus;
use crate::domain::dashboard::Home;
use crate::domain::page::noun;
use crate::domain::pricing::format_money;
use crate::domain::tenant::TenantCounts;
use crate::domain::time::format_millis;
use crate::domain::usage::UsageReport;

const RECENT: [Column; 4] = [
    Column::plain("When"),
    Column::plain("Actor"),
    Column::plain("Action"),
    Column::plain("Status"),
];

#[component]
pub fn DashboardPage() -> impl IntoView {
    let counts = Resource::new(|| (), |_| dashboard_home());
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
                    Ok(Home::Platform(c)) => view! { <PlatformCounts c/> }.into_any(),
                    Ok(Home::Tenant { tenant_id, usage, budgets }) => view! { <TenantMonth id=tenant_id usage budgets/> }.into_any(),
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

#[component]
fn PlatformCounts(c: TenantCounts) -> impl IntoView {
    let stat = |n: i64, one: &'static str, many: &'static str| {
        view! { <div class="card stat"><span class="num">{n}</span>{noun(n, one, many)}</div> }
    };
    view! {
        <section class="cards">
            {stat(c.tenants, "tenant", "tenants")}
            {stat(c.active_tenants, "active tenant", "active tenants")}
            {stat(c.active_keys, "active API key", "active API keys")}
            {stat(c.users, "user", "users")}
        </section>
    }
}

const TOP_MODELS: [Column; 3] = [
    Column::plain("Model"),
    Column::plain("Requests"),
    Column::plain("Spend"),
];

/// A tenant user's month: spend, requests, each budget's share spent, and
/// the models that cost the most.
#[component]
fn TenantMonth(id: String, usage: UsageReport, budgets: Vec<BudgetStatus>) -> impl IntoView {
    let mut models: Vec<_> = usage.by_model.into_iter().collect();
    models.sort_by_key(|(_, u)| std::cmp::Reverse(u.cost_micros));
    let rows = models
        .into_iter()
        .take(5)
        .map(|(m, u)| {
            view! { <tr><td><code>{m}</code></td><td>{u.requests}</td><td>{format_money(u.cost_micros)}</td></tr> }
                .into_any()
        })
        .collect();
    let budgets: Vec<AnyView> = budgets.into_iter().map(|s| {
        let class = if s.is_warning() { "card stat warn" } else { "card stat" };
        view! {
            <div class=class data-testid="budget-spent">
                <span class="num">{format!("{}%", s.percent())}</span>
                {format!("of {} ({} of {})", s.budget.describe(), format_money(s.spent_micros), format_money(s.budget.limit_micros))}
            </div>
        }.into_any()
    }).collect();
    // No budget: no node at all (an empty list among siblings does not
    // hydrate reliably).
    let budgets = (!budgets.is_empty()).then_some(budgets);
    let n = usage.totals.requests;
    view! {
        <section class="card" data-testid="tenant-month">
            <h2>"This month"</h2>
            <div class="cards">
                <div class="card stat"><span class="num" data-testid="month-spend">{format_money(usage.totals.cost_micros)}</span>"spend"</div>
                <div class="card stat"><span class="num">{n}</span>{noun(n, "request", "requests")}</div>
                {budgets}
            </div>
            <h3>"Top models"</h3>
            <DataTable columns=TOP_MODELS.to_vec() rows empty="No requests this month."/>
            <p><a href=format!("/tenants/{id}/usage")>"Usage in detail"</a></p>
        </section>
    }
}

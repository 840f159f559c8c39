//! The platform's Usage & billing overview, at the top of the Billing page:
//! spend this month, top tenants and models, the last 30 days' trend, and
//! budgets at 50% or more.

use leptos::prelude::*;

use crate::app::api::usage::platform_overview;
use crate::app::components::chart::StackedBars;
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::ErrorBox;
use crate::domain::dashboard::PlatformUsage;
use crate::domain::pricing::format_money;
use crate::domain::time::rfc3339;

const TENANTS: [Column; 3] = [
    Column::plain("Tenant"),
    Column::plain("Requests"),
    Column::plain("Spend"),
];
const MODELS: [Column; 3] = [
    Column::plain("Model"),
    Column::plain("Requests"),
    Column::plain("Spend"),
];
const BUDGETS: [Column; 3] = [
    Column::plain("Tenant"),
    Column::plain("Budget"),
    Column::plain("Spent"),
];

#[component]
pub fn PlatformUsageSection() -> impl IntoView {
    let data = Resource::new(|| (), |_| platform_overview());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(p) => view! { <Overview p/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(p: PlatformUsage) -> impl IntoView {
    let labels = p
        .trend
        .iter()
        .map(|(d, _)| rfc3339(*d).get(5..10).unwrap_or_default().to_string())
        .collect();
    let values = p.trend.iter().map(|(_, c)| *c as f64).collect();
    let tenants = p.top_tenants.iter().map(|(id, name, cost, requests)| view! {
        <tr><td><a href=format!("/tenants/{id}/usage")>{name.clone()}</a></td><td>{*requests}</td><td>{format_money(*cost)}</td></tr>
    }.into_any()).collect();
    let models = p
        .top_models
        .iter()
        .map(|(m, cost, requests)| {
            view! {
        <tr><td><code>{m.clone()}</code></td><td>{*requests}</td><td>{format_money(*cost)}</td></tr>
    }.into_any()
        })
        .collect();
    let budgets = p.budgets.iter().map(|(name, s)| view! {
        <tr class:warning=s.is_warning()><td>{name.clone()}</td><td>{s.budget.describe()}</td><td>{format!("{}%", s.percent())}</td></tr>
    }.into_any()).collect();
    view! {
        <section class="card" data-testid="platform-usage">
            <h2>"Usage this month"</h2>
            <div class="cards">
                <div class="stat"><span class="num">{format_money(p.month_cost_micros)}</span>"spend"</div>
                <div class="stat"><span class="num">{p.month_requests}</span>"requests"</div>
            </div>
            <StackedBars title="Spend per day across tenants, last 30 days".into() x_labels=labels
                series=vec![("spend".into(), values)] format=|v| format_money(v.round() as i64)/>
            <h3>"Top tenants"</h3>
            <DataTable columns=TENANTS.to_vec() rows=tenants class="top-tenants" empty="No usage this month."/>
            <h3>"Top models"</h3>
            <DataTable columns=MODELS.to_vec() rows=models class="top-models" empty="No usage this month."/>
            <h3>"Budgets at 50% or more"</h3>
            <DataTable columns=BUDGETS.to_vec() rows=budgets class="budget-status" empty="No budget is half spent."/>
        </section>
    }
}

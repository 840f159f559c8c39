//! Billing (platform admins): plans, and every model's price versions with
//! the one in force and those scheduled. Plain posts, so the forms work
//! before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::billing::{
    billing_overview, ArchivePlan, Billing, CreatePlan, SetEvaluationPrice, SetPrice,
};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::pages::platform_usage::PlatformUsageSection;
use crate::domain::pricing::format_usd;
use crate::domain::time::{format_millis, format_since};

#[component]
pub fn BillingPage() -> impl IntoView {
    let create = ServerAction::<CreatePlan>::new();
    let archive = ServerAction::<ArchivePlan>::new();
    let price = ServerAction::<SetPrice>::new();
    let evaluation = ServerAction::<SetEvaluationPrice>::new();
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                archive.version().get(),
                price.version().get(),
                evaluation.version().get(),
            )
        },
        |_| billing_overview(),
    );
    view! {
        <Title text="Billing"/>
        <h1>"Usage & billing"</h1>
        <PlatformUsageSection/>
        {move || outcome(create.value().get(), |p| format!("Created plan {}.", p.name))}
        {move || outcome(archive.value().get(), |p| format!("Archived plan {}: it takes no new subscribers.", p.name))}
        {move || outcome(price.value().get(), |v| format!("Price set from {}.", format_millis(v.effective_from)))}
        {move || outcome(evaluation.value().get(), |v| format!("Evaluation price set from {}.", format_millis(v.effective_from)))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(b) => view! { <Overview billing=b/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <section class="card">
            <h2>"New plan"</h2>
            <ActionForm action=create attr:class="grid-form" attr:data-testid="plan-create">
                <label>"Name" <input name="name" required/></label>
                <label>"Base fee ($/month)" <input name="base_fee" placeholder="0"/></label>
                <label>"Included credit ($)" <input name="included_credit" placeholder="0"/></label>
                <label>"Markups" <textarea name="markups" rows="2" placeholder="*=10"></textarea></label>
                <label>"Storage ($/GB-month)" <input name="storage_gb_month" placeholder="0"/></label>
                <label>"Custom model ($/month)" <input name="custom_model_month" placeholder="0"/></label>
                <label>"Monthly budget ($)" <input name="budget_usd" placeholder="none"/></label>
                <label>"Budget kind"
                    <select name="budget_kind"><option value="hard">"hard: refuse"</option><option value="soft">"soft: alert"</option></select>
                </label>
                <button type="submit" class="primary">"Create plan"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Archive a plan"</h2>
            <p class="muted">"An archived plan takes no new subscribers; tenants on it keep it."</p>
            <ActionForm action=archive attr:class="grid-form" attr:data-testid="plan-archive">
                <label>"Plan" <input name="name" required/></label>
                <button type="submit">"Archive plan"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Set a price"</h2>
            <p class="muted">"Per million tokens, plus optional charges per answered request and per server-side tool use. From now, or from a later moment (RFC 3339); never earlier."</p>
            <ActionForm action=price attr:class="grid-form" attr:data-testid="price-set">
                <label>"Model" <input name="model" required/></label>
                <label>"Input ($)" <input name="input" required/></label>
                <label>"Output ($)" <input name="output" required/></label>
                <label>"Cache read ($)" <input name="cache_read" placeholder="0"/></label>
                <label>"Cache write ($)" <input name="cache_write" placeholder="0"/></label>
                <label>"Per request ($)" <input name="per_request" placeholder="0"/></label>
                <label>"Per server tool use ($)" <input name="per_server_tool_use" placeholder="0"/></label>
                <label>"Effective from" <input name="effective_from" placeholder="2026-12-01T00:00:00Z"/></label>
                <button type="submit" class="primary">"Set price"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Flag evaluation price"</h2>
            <p class="muted">"What one OFREP flag evaluation costs tenants, e.g. 0.00001."</p>
            <ActionForm action=evaluation attr:class="grid-form" attr:data-testid="evaluation-price-set">
                <label>"Per evaluation ($)" <input name="usd" required/></label>
                <label>"Effective from" <input name="effective_from" placeholder="2026-12-01T00:00:00Z"/></label>
                <button type="submit" class="primary">"Set evaluation price"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Overview(billing: Billing) -> impl IntoView {
    let plans = billing
        .plans
        .iter()
        .map(|p| {
            let markups: Vec<String> = p.markup_percent.iter().map(|(m, v)| format!("{m} {v:+}%")).collect();
            let budget = p.monthly_budget.map_or_else(
                || "none".to_string(),
                |b| format!("{} {}", format_usd(b.limit_micros), b.enforcement.as_str()),
            );
            let status = p.archived_at.map_or_else(|| "open".to_string(), |at| format!("archived {}", format_millis(at)));
            view! {
                <tr><td>{p.name.clone()}</td><td>{format_usd(p.base_fee_micros)}</td>
                    <td>{format_usd(p.included_credit_micros)}</td><td>{markups.join(", ")}</td>
                    <td>{format_usd(p.storage_gb_month_micros)}</td><td>{format_usd(p.custom_model_month_micros)}</td>
                    <td>{budget}</td><td>{status}</td></tr>
            }
            .into_any()
        })
        .collect();
    let now = billing.now;
    let prices = billing
        .prices
        .iter()
        .flat_map(|(model, h)| {
            let in_force = h.at(now).map(|v| v.effective_from);
            h.versions().iter().map(move |v| {
                view! {
                    <tr><td><code>{model.clone()}</code></td><td>{format_since(v.effective_from)}</td>
                        <td>{format_usd(v.price.input_per_mtok)}</td><td>{format_usd(v.price.output_per_mtok)}</td>
                        <td>{format_usd(v.price.cache_read_per_mtok)}</td><td>{format_usd(v.price.cache_write_per_mtok)}</td>
                        <td>{format_usd(v.price.per_request)}</td><td>{format_usd(v.price.per_server_tool_use)}</td>
                        <td>{state(now, v.effective_from, in_force)}</td></tr>
                }
                .into_any()
            }).collect::<Vec<_>>()
        })
        .collect();
    let in_force = billing.evaluation_prices.at(now).map(|v| v.effective_from);
    let evaluations = billing
        .evaluation_prices
        .versions()
        .iter()
        .map(|v| {
            view! {
                <tr><td>{format_since(v.effective_from)}</td><td>{format_usd(v.price)}</td>
                    <td>{state(now, v.effective_from, in_force)}</td></tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <section class="card">
            <h2>"Plans"</h2>
            <DataTable columns=vec![Column::plain("Plan"), Column::plain("Base fee"), Column::plain("Credit"), Column::plain("Markups"),
                Column::plain("Storage / GB-month"), Column::plain("Custom model / month"), Column::plain("Monthly budget"), Column::plain("Status")]
                rows=plans testid="plan-list" empty="No plans yet."/>
        </section>
        <section class="card">
            <h2>"Prices"</h2>
            <DataTable columns=vec![Column::plain("Model"), Column::plain("From"), Column::plain("Input / MTok"),
                Column::plain("Output / MTok"), Column::plain("Cache read"), Column::plain("Cache write"),
                Column::plain("Per request"), Column::plain("Per tool use"), Column::plain("")]
                rows=prices testid="price-list" empty="No models yet."/>
            <h3>"Flag evaluations"</h3>
            <DataTable columns=vec![Column::plain("From"), Column::plain("Per evaluation"), Column::plain("")]
                rows=evaluations testid="evaluation-price-list" empty="Free: no price set."/>
        </section>
    }
}

/// A price version's state at `now`, given the one in force.
fn state(now: i64, effective_from: i64, in_force: Option<i64>) -> &'static str {
    match (effective_from > now, Some(effective_from) == in_force) {
        (true, _) => "scheduled",
        (false, true) => "in force",
        (false, false) => "past",
    }
}

//! Billing (platform admins): plans, and every model's price versions with
//! the one in force and those scheduled. Plain posts, so the forms work
//! before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::billing::{billing_overview, Billing, CreatePlan, SetPrice};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::pages::platform_usage::PlatformUsageSection;
use crate::domain::pricing::format_usd;
use crate::domain::time::format_millis;

#[component]
pub fn BillingPage() -> impl IntoView {
    let create = ServerAction::<CreatePlan>::new();
    let price = ServerAction::<SetPrice>::new();
    let data = Resource::new(
        move || (create.version().get(), price.version().get()),
        |_| billing_overview(),
    );
    view! {
        <Title text="Billing"/>
        <h1>"Usage & billing"</h1>
        <PlatformUsageSection/>
        {move || outcome(create.value().get(), |p| format!("Created plan {}.", p.name))}
        {move || outcome(price.value().get(), |v| format!("Price set from {}.", format_millis(v.effective_from)))}
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
                <button type="submit" class="primary">"Create plan"</button>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Set a price"</h2>
            <p class="muted">"Per million tokens. From now, or from a later moment (RFC 3339); never earlier."</p>
            <ActionForm action=price attr:class="grid-form" attr:data-testid="price-set">
                <label>"Model" <input name="model" required/></label>
                <label>"Input ($)" <input name="input" required/></label>
                <label>"Output ($)" <input name="output" required/></label>
                <label>"Effective from" <input name="effective_from" placeholder="2026-12-01T00:00:00Z"/></label>
                <button type="submit" class="primary">"Set price"</button>
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
            view! {
                <tr><td>{p.name.clone()}</td><td>{format_usd(p.base_fee_micros)}</td>
                    <td>{format_usd(p.included_credit_micros)}</td><td>{markups.join(", ")}</td></tr>
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
                let state = match (v.effective_from > now, Some(v.effective_from) == in_force) {
                    (true, _) => "scheduled",
                    (false, true) => "in force",
                    (false, false) => "past",
                };
                view! {
                    <tr><td><code>{model.clone()}</code></td><td>{format_millis(v.effective_from)}</td>
                        <td>{format_usd(v.price.input_per_mtok)}</td><td>{format_usd(v.price.output_per_mtok)}</td>
                        <td>{state}</td></tr>
                }
                .into_any()
            }).collect::<Vec<_>>()
        })
        .collect();
    view! {
        <section class="card">
            <h2>"Plans"</h2>
            <DataTable columns=vec![Column::plain("Plan"), Column::plain("Base fee"), Column::plain("Credit"), Column::plain("Markups")]
                rows=plans testid="plan-list" empty="No plans yet."/>
        </section>
        <section class="card">
            <h2>"Prices"</h2>
            <DataTable columns=vec![Column::plain("Model"), Column::plain("From"), Column::plain("Input / MTok"),
                Column::plain("Output / MTok"), Column::plain("")]
                rows=prices testid="price-list" empty="No models yet."/>
        </section>
    }
}

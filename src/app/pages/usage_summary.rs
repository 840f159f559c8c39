//! "Usage this month" on the tenant page: totals and a row per model, from
//! the usage report (the Usage page has the charts).

use leptos::prelude::*;

use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::ErrorBox;
use crate::domain::pricing::format_usd;
use crate::domain::usage::{UsageReport, UsageTotals};

const USAGE_COLUMNS: [Column; 6] = [
    Column::plain("Model"),
    Column::plain("Requests"),
    Column::plain("Input"),
    Column::plain("Output"),
    Column::plain("Errors"),
    Column::plain("Cost"),
];

fn usage_rows(by_model: std::collections::BTreeMap<String, UsageTotals>) -> Vec<AnyView> {
    by_model
        .into_iter()
        .map(|(m, u)| {
            view! {
                <tr><td><code>{m}</code></td><td>{u.requests}</td><td>{u.input_tokens}</td>
                    <td>{u.output_tokens}</td><td>{u.errors}</td><td>{format_usd(u.cost_micros)}</td></tr>
            }
            .into_any()
        })
        .collect()
}

#[component]
pub fn UsageSummary(usage: Resource<Result<UsageReport, ServerFnError>>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Usage this month"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match usage.await {
                        Ok(r) => view! {
                            <div class="cards">
                                <div class="stat"><span class="num">{r.totals.requests}</span>"requests"</div>
                                <div class="stat"><span class="num">{r.totals.input_tokens}</span>"input tokens"</div>
                                <div class="stat"><span class="num">{r.totals.output_tokens}</span>"output tokens"</div>
                                <div class="stat"><span class="num">{format_usd(r.totals.cost_micros)}</span>"cost"</div>
                                <div class="stat" data-testid="usage-evaluations"><span class="num">{r.totals.evaluations}</span>"flag evaluations"</div>
                            </div>
                            <DataTable columns=USAGE_COLUMNS.to_vec() rows=usage_rows(r.by_model)
                                empty="No requests this month."/>
                        }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

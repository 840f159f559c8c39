//! Budgets on the tenant page: a banner once a budget is 80% spent, the
//! budgets with their spend this period, recent alerts, and (platform
//! admins) forms to set and remove them. Plain forms: they work before
//! the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::app::api::budgets::{BudgetOverview, RemoveBudget, SetBudget};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::domain::budget::BudgetStatus;
use crate::domain::pricing::format_money;
use crate::domain::time::format_millis;

pub type BudgetsResource = Resource<Result<BudgetOverview, ServerFnError>>;

/// The warning at the top of a tenant's pages.
#[component]
pub fn BudgetBanner(budgets: BudgetsResource) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let warnings: Vec<BudgetStatus> = budgets.await.map(|b| b.budgets).unwrap_or_default()
                    .into_iter().filter(BudgetStatus::is_warning).collect();
                warnings.into_iter().map(|s| view! {
                    <div class="flash warn budget-banner" role="alert">
                        {format!("{} is {}% spent ({} of {}).", capitalise(&s.budget.describe()),
                            s.percent(), format_money(s.spent_micros), format_money(s.budget.limit_micros))}
                    </div>
                }).collect_view()
            })}
        </Suspense>
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

const COLUMNS: [Column; 6] = [
    Column::plain("Budget"),
    Column::plain("Kind"),
    Column::plain("Limit"),
    Column::plain("Spent this period"),
    Column::plain("Period"),
    Column::plain(""),
];

#[component]
pub fn BudgetsSection(
    tenant_id: String,
    budgets: BudgetsResource,
    set: ServerAction<SetBudget>,
    remove: ServerAction<RemoveBudget>,
    admin: bool,
) -> impl IntoView {
    let tid = tenant_id.clone();
    view! {
        <section class="card" id="budgets">
            <h2>"Budgets"</h2>
            {move || set.value().get().map(|r| match r {
                Ok(s) => view! {
                    <div class="flash success" role="status">
                        <p>{format!("Saved {}.", s.budget.describe())}</p>
                        {s.webhook_secret.map(|w| view! {
                            <p>"Webhook signing secret (shown once): " <code class="secret">{w}</code></p>
                        })}
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
            {move || outcome(remove.value().get(), |b| format!("Removed {}.", b.describe()))}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || { let tid = tid.clone(); Suspend::new(async move {
                    match budgets.await {
                        Ok(b) => {
                            let rows = b.budgets.into_iter()
                                .map(|s| budget_row(s, &tid, admin, remove)).collect();
                            view! {
                                <DataTable columns=COLUMNS.to_vec() rows class="budgets"
                                    empty="No budgets: spending is limited only by rate limits."/>
                                <Alerts alerts=b.alerts/>
                            }.into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}}
            </Suspense>
            {admin.then(|| view! { <SetForm tenant_id=tenant_id.clone() set/> })}
        </section>
    }
}

fn budget_row(
    s: BudgetStatus,
    tenant_id: &str,
    admin: bool,
    remove: ServerAction<RemoveBudget>,
) -> AnyView {
    let b = s.budget.clone();
    let scope = b
        .api_key_name
        .clone()
        .map_or("whole tenant".to_string(), |k| format!("key {k}"));
    let tenant_id = tenant_id.to_string();
    let remove_form = admin.then(|| {
        view! {
            <ActionForm action=remove attr:class="inline">
                <input type="hidden" name="tenant_id" value=tenant_id/>
                <input type="hidden" name="key" value=b.api_key_id.clone().unwrap_or_default()/>
                <input type="hidden" name="enforcement" value=b.enforcement.as_str()/>
                <button type="submit" class="warn">"Remove"</button>
            </ActionForm>
        }
    });
    view! {
        <tr class:warning=s.is_warning()>
            <td>{scope}</td>
            <td>{b.enforcement.as_str()}</td>
            <td>{format_money(b.limit_micros)}</td>
            <td>{format!("{} ({}%)", format_money(s.spent_micros), s.percent())}</td>
            <td>{b.period.describe()}</td>
            <td>{remove_form}</td>
        </tr>
    }
    .into_any()
}

/// The end of a budget's id: ids are UUID v7, whose first characters are
/// the creation time, the same for budgets made in the same minute.
fn short_id(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

#[component]
fn Alerts(alerts: Vec<(i64, String, i64)>) -> impl IntoView {
    (!alerts.is_empty()).then(|| view! {
        <h3>"Recent alerts"</h3>
        <ul class="alerts">
            {alerts.into_iter().map(|(pct, id, at)| view! {
                <li>{format!("{} — {pct}% reached (budget {})", format_millis(at), short_id(&id))}</li>
            }).collect_view()}
        </ul>
    })
}

#[component]
fn SetForm(tenant_id: String, set: ServerAction<SetBudget>) -> impl IntoView {
    view! {
        <ActionForm action=set attr:class="grid-form">
            <input type="hidden" name="tenant_id" value=tenant_id/>
            <label>"Limit (USD)" <input name="limit" required placeholder="100"/></label>
            <label>"Period"
                <input name="period" value="month" required title="month, or days like 7d"/>
            </label>
            <label>"Kind"
                <select name="enforcement">
                    <option value="hard">"hard: refuse requests that could cross it"</option>
                    <option value="soft">"soft: alert at 50, 80 and 100%"</option>
                </select>
            </label>
            <label>"API key (id or name; empty: whole tenant)" <input name="key"/></label>
            <label>"Alert webhook (soft only)" <input name="webhook" type="url" placeholder="https://…"/></label>
            <button type="submit" class="primary">"Set budget"</button>
        </ActionForm>
    }
}

use crate::app::components::tenant_select::TenantSelect;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::policies::{list_policies, AddPolicy, RemovePolicy, TryPolicy};
use crate::app::api::tenants::tenant_options;
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::domain::pii::{Classification, EntityType, Finding};
use crate::domain::policy::{Action, PolicyRule, Trial};

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let query = use_query_map();
    let tenant = move || query.read().get("tenant").unwrap_or_default();
    let add = ServerAction::<AddPolicy>::new();
    let remove = ServerAction::<RemovePolicy>::new();
    let trial = ServerAction::<TryPolicy>::new();
    let rules = Resource::new(
        move || (tenant(), add.version().get(), remove.version().get()),
        |(t, _, _)| list_policies(t),
    );
    let tenants = Resource::new(|| (), |_| tenant_options());
    view! {
        <Title text="Policies"/>
        <h1>"Data policies"</h1>
        <p class="muted">"Rules decide what happens to a prompt that contains personal data or secrets. "
           "A tenant without rules of its own follows the platform default."</p>
        <form class="filters" method="get" action="/policies">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let selected = tenant();
                    let options = tenants.await.unwrap_or_default();
                    view! {
                        <TenantSelect options selected none="Platform default" testid="policy-tenant"/>
                    }
                })}
            </Suspense>
            <button type="submit">"Show"</button>
        </form>
        <section class="card">
            <h2>"Rules"</h2>
            {move || outcome(add.value().get(), |r| format!("Added: {} → {}.", r.target, r.action))}
            {move || outcome(remove.value().get(), |_| "Rule removed.".to_string())}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rules.await {
                        Ok(rules) => view! { <RuleTable rules remove/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <AddRule tenant=Signal::derive(tenant) action=add/>
        </section>
        <TryIt tenant=Signal::derive(tenant) action=trial/>
    }
}

const RULE_COLUMNS: [Column; 5] = [
    Column::plain("Applies to"),
    Column::plain("Action"),
    Column::plain("Direction"),
    Column::plain("Id"),
    Column::plain(""),
];

#[component]
fn RuleTable(rules: Vec<PolicyRule>, remove: ServerAction<RemovePolicy>) -> impl IntoView {
    let rows = rules
        .into_iter()
        .map(|r| {
            view! {
                <tr>
                    <td>{r.target.to_string()}</td>
                    <td><Badge text=r.action.as_str().to_string()/></td>
                    <td>{r.direction.as_str()}</td>
                    <td><code>{r.id.clone()}</code></td>
                    <td>
                        <ActionForm action=remove attr:class="inline">
                            <input type="hidden" name="id" value=r.id.clone()/>
                            <button type="submit" class="warn small">"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <DataTable columns=RULE_COLUMNS.to_vec() rows testid="policy-rules"
            empty="No rules: everything is allowed (and still classified)."/>
    }
}

#[component]
fn AddRule(tenant: Signal<String>, action: ServerAction<AddPolicy>) -> impl IntoView {
    view! {
        <ActionForm action=action attr:class="grid-form" attr:data-testid="policy-add">
            <input type="hidden" name="tenant" prop:value=move || tenant.get()/>
            <label>"When the text contains"
                <select name="target">
                    {EntityType::ALL.into_iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                    {Classification::ALL.into_iter().map(|c| view! {
                        <option value=format!("class:{}", c.as_str())>{format!("anything {} or above", c.as_str())}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Then"
                <select name="action">
                    {Action::ALL.into_iter().map(|a| view! { <option value=a.as_str()>{a.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label>"In"
                <select name="direction">
                    <option value="prompt">"prompts"</option>
                    <option value="response">"responses (not streamed)"</option>
                </select>
            </label>
            <button type="submit" class="primary">"Add rule"</button>
        </ActionForm>
    }
}

#[component]
fn TryIt(tenant: Signal<String>, action: ServerAction<TryPolicy>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Try it"</h2>
            <ActionForm action=action attr:class="try-it" attr:data-testid="policy-try">
                <input type="hidden" name="tenant" prop:value=move || tenant.get()/>
                <textarea name="text" rows="4" placeholder="Paste a prompt to see what the policy does"></textarea>
                <button type="submit">"Check"</button>
            </ActionForm>
            {move || action.value().get().map(|r| match r {
                Ok(t) => view! { <TrialResult trial=t/> }.into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
        </section>
    }
}

const FINDING_COLUMNS: [Column; 3] = [
    Column::plain("Type"),
    Column::plain("Where"),
    Column::plain("Confidence"),
];

fn finding_rows(findings: Vec<Finding>) -> Vec<AnyView> {
    findings
        .into_iter()
        .map(|f| {
            view! {
                <tr><td>{f.entity_type.as_str()}</td><td>{format!("{}–{}", f.start, f.end)}</td>
                    <td>{format!("{:.2}", f.score)}</td></tr>
            }
            .into_any()
        })
        .collect()
}

#[component]
fn TrialResult(trial: Trial) -> impl IntoView {
    let d = trial.decision;
    view! {
        <div class="trial" data-testid="policy-trial">
            <p>"Decision: " <strong data-testid="trial-action">{d.action.as_str()}</strong>
               " · highest classification: " {d.classification.as_str()}</p>
            <DataTable columns=FINDING_COLUMNS.to_vec() rows=finding_rows(trial.findings)
                empty="Nothing found."/>
            {match trial.forwarded {
                Some(text) => view! { <p>"The provider would see:"</p><pre data-testid="trial-forwarded">{text}</pre> }.into_any(),
                None => view! { <p class="flash error">"The request would be refused (403)."</p> }.into_any(),
            }}
        </div>
    }
}

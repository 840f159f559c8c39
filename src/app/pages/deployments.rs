//! Model deployments: a tenant's custom (LoRA) models with their status,
//! versions, where each is loaded and the actions its admins may take;
//! for platform admins, every serving pool and engine with what it holds
//! and what the reconciler last repaired. Forms are plain posts too, so
//! they work before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::custom_models::{
    deployments, CustomModelAction, DeploymentsView, EndpointRow, ModelRow, RegisterCustomModel,
};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::domain::custom_model::Action;
use crate::domain::pricing::format_usd;
use crate::domain::time::rfc3339;

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let query = use_query_map();
    let tenant = move || query.read().get("tenant").unwrap_or_default();
    let register = ServerAction::<RegisterCustomModel>::new();
    let act = ServerAction::<CustomModelAction>::new();
    let view_data = Resource::new(
        move || (tenant(), register.version().get(), act.version().get()),
        |(t, _, _)| deployments(t),
    );
    view! {
        <Title text="Model deployments"/>
        <h1>"Model deployments"</h1>
        {move || outcome(register.value().get(), |m| format!("Registered {} ({}).", m.versioned_name(), m.status))}
        {move || outcome(act.value().get(), |m| format!("{} is {}.", m.versioned_name(), m.status))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(v) => view! { <Deployments view=v tenant=tenant() register act/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Deployments(
    view: DeploymentsView,
    tenant: String,
    register: ServerAction<RegisterCustomModel>,
    act: ServerAction<CustomModelAction>,
) -> impl IntoView {
    let manage = view.can_manage && !tenant.is_empty();
    let models = (!tenant.is_empty()).then(|| {
        let rows = view
            .models
            .iter()
            .map(|m| model_row(m, &tenant, (manage, view.can_pin), act))
            .collect();
        view! {
            <section class="card">
                <h2>"Custom models"</h2>
                <DataTable columns=MODEL_COLUMNS.to_vec() rows testid="custom-models"
                    empty="No custom models yet."/>
            </section>
        }
    });
    let form = manage.then(|| view! { <RegisterForm tenant=tenant.clone() bases=view.base_models.clone() action=register/> });
    let pools = (!view.pools.is_empty() || !view.endpoints.is_empty()).then(|| pools_view(&view));
    let hint = (tenant.is_empty() && view.pools.is_empty()).then(|| view! {
        <p class="muted">"No serving pools yet: add one with "<code>"atrium pool add"</code>"."</p>
    });
    view! { {models} {form} {pools} {hint} }
}

const MODEL_COLUMNS: [Column; 7] = [
    Column::plain("Model"),
    Column::plain("Status"),
    Column::plain("Base"),
    Column::plain("Engines"),
    Column::plain("This month"),
    Column::plain("Notes"),
    Column::plain("Actions"),
];

/// `(manage, pin)`: whether the viewer may act on the tenant's versions,
/// and whether it may pin them (platform admins).
fn model_row(
    r: &ModelRow,
    tenant: &str,
    (manage, pin): (bool, bool),
    act: ServerAction<CustomModelAction>,
) -> AnyView {
    let m = &r.model;
    let name = m.versioned_name();
    let loaded = r.endpoints.iter().filter(|(_, _, l)| *l).count();
    let engines = r
        .endpoints
        .iter()
        .map(|(p, up, l)| {
            format!(
                "{p}: {}",
                if !up {
                    "down"
                } else if *l {
                    "loaded"
                } else {
                    "—"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let notes = [
        m.active.then(|| "serves its name".to_string()),
        m.pinned.then(|| "pinned".to_string()),
        m.deprecated_until.map(|u| format!("until {}", rfc3339(u))),
        m.status_reason.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let actions = if manage {
        Action::offered(m, pin)
    } else {
        vec![]
    };
    let buttons = actions
        .into_iter()
        .map(|a| {
            let (tenant, model, testid) = (
                tenant.to_string(),
                name.clone(),
                format!("{}-{name}", a.as_str()),
            );
            view! {
                <ActionForm action=act attr:class="inline">
                    <input type="hidden" name="tenant" value=tenant/>
                    <input type="hidden" name="model" value=model/>
                    <input type="hidden" name="action" value=a.as_str()/>
                    <button type="submit" class="small" data-testid=testid>{a.as_str()}</button>
                </ActionForm>
            }
        })
        .collect_view();
    view! {
        <tr data-testid=format!("custom-model-{name}")>
            <td><code>{name.clone()}</code></td>
            <td><Badge text=m.status.to_string()/></td>
            <td><code>{m.base_model.clone()}</code></td>
            <td data-testid="engines" title=engines>{format!("{loaded} of {} loaded", r.endpoints.len())}</td>
            <td>{format!("{} requests, {}", r.requests, format_usd(r.cost_micros))}</td>
            <td>{notes}</td>
            <td>{buttons}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn RegisterForm(
    tenant: String,
    bases: Vec<String>,
    action: ServerAction<RegisterCustomModel>,
) -> impl IntoView {
    // A tenant's local adapters come only from its own folder of the roots.
    let folder = format!("<adapter root>/{tenant}/");
    let example = format!("/srv/adapters/{tenant}/support-bot");
    view! {
        <section class="card">
            <h2>"Register an adapter"</h2>
            <p class="muted">"A PEFT LoRA directory inside this tenant's own folder, "<code>{folder}</code>", that the engines can read (checked now), or an s3:// or https:// URI under a prefix the operator allows this tenant (checked by the engines when they load it)."</p>
            <ActionForm action attr:class="grid-form" attr:data-testid="register-custom-model">
                <input type="hidden" name="tenant" value=tenant/>
                <label>"Name" <input name="name" required placeholder="support-bot"/></label>
                <label>"Base model" <select name="base_model">
                    {bases.into_iter().map(|b| view! { <option value=b.clone()>{b.clone()}</option> }).collect_view()}
                </select></label>
                <label>"Adapter" <input name="adapter" required placeholder=example/></label>
                <label>"Version" <input name="version" type="number" min="1" placeholder="next"/></label>
                <label>"Still training" <input name="training" type="checkbox" value="yes"/></label>
                <button type="submit" class="primary">"Register"</button>
            </ActionForm>
        </section>
    }
}

const ENDPOINT_COLUMNS: [Column; 6] = [
    Column::plain("Pool"),
    Column::plain("Endpoint"),
    Column::plain("State"),
    Column::plain("Loaded adapters"),
    Column::plain("Last repair"),
    Column::plain("Checked"),
];

fn endpoint_row(e: &EndpointRow) -> AnyView {
    let state = if !e.reachable {
        "down"
    } else if e.error.is_some() {
        "drift"
    } else {
        "synced"
    };
    let repaired = match e.repaired_at {
        Some(at) => format!("{} ({})", e.repaired.join(", "), rfc3339(at)),
        None => "—".to_string(),
    };
    view! {
        <tr data-testid=format!("endpoint-{}", e.provider)>
            <td>{e.pool.clone()}</td>
            <td><code>{e.base_url.clone()}</code></td>
            <td><Badge text=state.to_string()/>" "{e.error.clone().unwrap_or_default()}</td>
            <td>{e.loaded.join(", ")}</td>
            <td>{repaired}</td>
            <td>{rfc3339(e.checked_at)}</td>
        </tr>
    }
    .into_any()
}

fn pools_view(v: &DeploymentsView) -> AnyView {
    let pools = v
        .pools
        .iter()
        .map(|p| {
            format!(
                "{} serves {} on {} endpoint(s) in {}; at most {} adapters each, rank ≤ {}",
                p.name,
                p.base_model,
                p.endpoints,
                p.region,
                if p.max_loras == 0 {
                    "any".to_string()
                } else {
                    p.max_loras.to_string()
                },
                p.max_lora_rank
            )
        })
        .map(|line| view! { <li>{line}</li> })
        .collect_view();
    let rows = v.endpoints.iter().map(endpoint_row).collect();
    view! {
        <section class="card" data-testid="pools">
            <h2>"Serving pools"</h2>
            <ul>{pools}</ul>
            <DataTable columns=ENDPOINT_COLUMNS.to_vec() rows testid="endpoints" empty="No engine seen yet."/>
        </section>
    }
    .into_any()
}

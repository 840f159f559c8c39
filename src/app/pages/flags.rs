//! Feature toggles: the platform's flags (platform admins) or a tenant's
//! own (its admins change them, its viewers read). Every form is a plain
//! post as well, so it works before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::flags::{list_flags, CreateFlag, SetFlagEnabled, SetFlagRollout};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::domain::flag::{Flag, FlagVerdict, Reason, Rule};

#[component]
pub fn FlagsPage() -> impl IntoView {
    let query = use_query_map();
    let tenant = move || query.read().get("tenant").unwrap_or_default();
    let create = ServerAction::<CreateFlag>::new();
    let rollout = ServerAction::<SetFlagRollout>::new();
    let toggle = ServerAction::<SetFlagEnabled>::new();
    let flags = Resource::new(
        move || {
            let versions = (
                create.version().get(),
                rollout.version().get(),
                toggle.version().get(),
            );
            (tenant(), versions)
        },
        |(t, _)| list_flags(t),
    );
    let actions = FlagActions { rollout, toggle };
    view! {
        <Title text="Feature toggles"/>
        <h1>"Feature toggles"</h1>
        <p class="muted">{move || if tenant().is_empty() {
            "Platform flags switch Atrium's capabilities per tenant."
        } else {
            "This tenant's flags, for its own applications (OpenFeature OFREP at /ofrep/v1)."
        }}</p>
        <section class="card">
            <h2>"Flags"</h2>
            {move || outcome(create.value().get(), |f| format!("Created flag {}.", f.key))}
            {move || outcome(rollout.value().get(), |f| format!("{}: rollout set to {}%.", f.key, rollout_of(f).unwrap_or(0)))}
            {move || outcome(toggle.value().get(), |f| format!("{} is now {}.", f.key, if f.enabled { "enabled" } else { "disabled" }))}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match flags.await {
                        Ok(list) => view! { <FlagTable flags=list tenant=tenant() actions/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=create attr:class="grid-form" attr:data-testid="flag-create">
                <input type="hidden" name="tenant" prop:value=tenant/>
                <label>"Key" <input name="key" placeholder="checkout.new-flow" required/></label>
                <label>"Description" <input name="description"/></label>
                <button type="submit" class="primary">"Create flag"</button>
            </ActionForm>
        </section>
    }
}

#[derive(Clone, Copy)]
struct FlagActions {
    rollout: ServerAction<SetFlagRollout>,
    toggle: ServerAction<SetFlagEnabled>,
}

fn rollout_of(flag: &Flag) -> Option<u8> {
    flag.rules.iter().find_map(|r| match r {
        Rule::Rollout { percentage, .. } => Some(*percentage),
        _ => None,
    })
}

const COLUMNS: [Column; 6] = [
    Column::plain("Key"),
    Column::plain("State"),
    Column::plain("Rollout"),
    Column::plain("Rules"),
    Column::plain("Change"),
    Column::plain("History"),
];

#[component]
fn FlagTable(flags: Vec<Flag>, tenant: String, actions: FlagActions) -> impl IntoView {
    let rows = flags
        .into_iter()
        .map(|f| flag_row(f, &tenant, actions))
        .collect();
    view! {
        <DataTable columns=COLUMNS.to_vec() rows testid="flag-list" empty="No flags yet."/>
    }
}

fn flag_row(f: Flag, tenant: &str, actions: FlagActions) -> AnyView {
    let key = f.key.to_string();
    let state = if f.enabled { "enabled" } else { "disabled" };
    let pct = rollout_of(&f);
    let history = format!(
        "/audit?resource={key}{}",
        if tenant.is_empty() {
            String::new()
        } else {
            format!("&tenant={tenant}")
        }
    );
    let (t1, t2, k1, k2) = (
        tenant.to_string(),
        tenant.to_string(),
        key.clone(),
        key.clone(),
    );
    view! {
        <tr data-testid=format!("flag-{key}")>
            <td><code>{key.clone()}</code><br/><span class="muted">{f.description.clone()}</span></td>
            <td><Badge text=state.to_string()/></td>
            <td data-testid="flag-rollout">{pct.map_or_else(|| "—".to_string(), |p| format!("{p}%"))}</td>
            <td>{f.rules.len()}</td>
            <td>
                <ActionForm action=actions.rollout attr:class="inline">
                    <input type="hidden" name="tenant" value=t1/>
                    <input type="hidden" name="key" value=k1/>
                    <input name="percent" type="number" min="0" max="100" aria-label="rollout percent"
                        value=pct.unwrap_or(0).to_string()/>
                    <button type="submit" class="small">"Set rollout"</button>
                </ActionForm>
                <ActionForm action=actions.toggle attr:class="inline">
                    <input type="hidden" name="tenant" value=t2/>
                    <input type="hidden" name="key" value=k2/>
                    <input type="hidden" name="enabled" value=(!f.enabled).to_string()/>
                    <button type="submit" class=if f.enabled { "warn small" } else { "small" }>
                        {if f.enabled { "Kill switch: disable" } else { "Enable" }}
                    </button>
                </ActionForm>
            </td>
            <td><a href=history>"History"</a></td>
        </tr>
    }
    .into_any()
}

const VERDICT_COLUMNS: [Column; 3] = [
    Column::plain("Capability"),
    Column::plain("For this tenant"),
    Column::plain("Why"),
];

fn why(v: &FlagVerdict) -> String {
    let reason = match v.reason {
        Reason::Static => "the flag's default",
        Reason::Default => "no rule matched: the default",
        Reason::TargetingMatch => "listed or matched by a rule",
        Reason::Split => "in the rollout's bucket",
        Reason::Disabled => "the kill switch is off",
    };
    match v.rule {
        Some(i) => format!("{reason} (rule {})", i + 1),
        None => reason.to_string(),
    }
}

/// The platform flags as they stand for one tenant (its detail page).
#[component]
pub fn TenantFlags(flags: Resource<Result<Vec<FlagVerdict>, ServerFnError>>) -> impl IntoView {
    view! {
        <section class="card" data-testid="tenant-flags">
            <h2>"Platform flags"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match flags.await {
                        Ok(list) => {
                            let rows = list.iter().map(|v| view! {
                                <tr><td><code>{v.key.clone()}</code></td>
                                    <td><Badge text=if v.value == serde_json::Value::Bool(true) { "on".to_string() } else { v.variant.clone() }/></td>
                                    <td>{why(v)}</td></tr>
                            }.into_any()).collect();
                            view! { <DataTable columns=VERDICT_COLUMNS.to_vec() rows empty="No platform flags."/> }.into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

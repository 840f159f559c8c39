//! Feature toggles: the platform's flags (platform admins) or a tenant's
//! own (its admins change them, its viewers read). Every form is a plain
//! post as well, so it works before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::flags::{
    list_flags, CreateFlag, SetFlagArchived, SetFlagEnabled, SetFlagRollout,
};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::domain::flag::{rollout as rollout_of, Flag, FlagVerdict, Reason};

#[component]
pub fn FlagsPage() -> impl IntoView {
    let query = use_query_map();
    let tenant = move || query.read().get("tenant").unwrap_or_default();
    let create = ServerAction::<CreateFlag>::new();
    let rollout = ServerAction::<SetFlagRollout>::new();
    let toggle = ServerAction::<SetFlagEnabled>::new();
    let archive = ServerAction::<SetFlagArchived>::new();
    let flags = Resource::new(
        move || {
            let versions = (
                create.version().get(),
                rollout.version().get(),
                toggle.version().get(),
                archive.version().get(),
            );
            (tenant(), versions)
        },
        |(t, _)| list_flags(t),
    );
    let actions = FlagActions {
        rollout,
        toggle,
        archive,
    };
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
                <label>"Type" <select name="kind">
                    <option value="boolean" selected>"boolean"</option>
                    <option value="string">"string"</option>
                    <option value="number">"number"</option>
                    <option value="json">"json"</option>
                </select></label>
                <label>"Variants (not boolean)" <textarea name="variants" rows="2"
                    placeholder="one NAME=VALUE per line; the first is the default"></textarea></label>
                <label>"Description" <input name="description"/></label>
                <button type="submit" class="primary">"Create flag"</button>
            </ActionForm>
        </section>
    }
}

#[derive(Clone, Copy)]
pub struct FlagActions {
    pub rollout: ServerAction<SetFlagRollout>,
    pub toggle: ServerAction<SetFlagEnabled>,
    pub archive: ServerAction<SetFlagArchived>,
}

/// A flag's state in a word: archived, enabled or disabled.
pub(crate) fn state_of(flag: &Flag) -> &'static str {
    match (flag.archived, flag.enabled) {
        (true, _) => "archived",
        (false, true) => "enabled",
        (false, false) => "disabled",
    }
}

/// The flag page's address; `tenant` empty for a platform flag.
pub(crate) fn flag_href(key: &str, tenant: &str) -> String {
    if tenant.is_empty() {
        format!("/flags/{key}")
    } else {
        format!("/flags/{key}?tenant={tenant}")
    }
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
    let state = state_of(&f);
    let pct = rollout_of(&f);
    let href = flag_href(&key, tenant);
    let (description, rules) = (f.description.clone(), f.rules.len());
    view! {
        <tr data-testid=format!("flag-{key}")>
            <td><a href=href.clone()><code>{key.clone()}</code></a><br/><span class="muted">{description}</span></td>
            <td><Badge text=state.to_string()/></td>
            <td data-testid="flag-rollout">{pct.map_or_else(|| "—".to_string(), |p| format!("{p}%"))}</td>
            <td>{rules}</td>
            <td><FlagControls flag=f tenant=tenant.to_string() actions/></td>
            <td><a href=format!("{href}#history")>"History"</a></td>
        </tr>
    }
    .into_any()
}

/// Rollout percentage and kill switch: plain posts that work before the wasm.
#[component]
pub fn FlagControls(flag: Flag, tenant: String, actions: FlagActions) -> impl IntoView {
    let key = flag.key.to_string();
    let pct = crate::domain::flag::effective_rollout(&flag);
    let (t1, t2, k1, k2) = (tenant.clone(), tenant, key.clone(), key);
    view! {
                <ActionForm action=actions.rollout attr:class="inline">
                    <input type="hidden" name="tenant" value=t1/>
                    <input type="hidden" name="key" value=k1/>
                    <input name="percent" type="number" min="0" max="100" aria-label="rollout percent"
                        value=pct.to_string()/>
                    <button type="submit" class="small">"Set rollout"</button>
                </ActionForm>
                <ActionForm action=actions.toggle attr:class="inline">
                    <input type="hidden" name="tenant" value=t2/>
                    <input type="hidden" name="key" value=k2/>
                    <input type="hidden" name="enabled" value=(!flag.enabled).to_string()/>
                    <button type="submit" class=if flag.enabled { "warn small" } else { "small" }>
                        {if flag.enabled { "Kill switch: disable" } else { "Enable" }}
                    </button>
                </ActionForm>
    }
}

const VERDICT_COLUMNS: [Column; 3] = [
    Column::plain("Capability"),
    Column::plain("For this tenant"),
    Column::plain("Why"),
];

pub(crate) fn why(v: &FlagVerdict) -> String {
    let reason = match v.reason {
        Reason::Static => "the flag's default",
        Reason::Default => "no rule matched: the default",
        Reason::TargetingMatch => "listed or matched by a rule",
        Reason::Split => "in the rollout's bucket",
        Reason::Disabled => "disabled by the kill switch",
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

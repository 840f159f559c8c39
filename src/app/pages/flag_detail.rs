//! One flag: its variants and rules (with a JSON editor for its admins),
//! rollout and kill switch, who gets it (platform flags: every tenant),
//! where any targeting key falls, and its history. Server-rendered; every
//! form is a plain post or get, so it works before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::flags::{flag_href, why, FlagActions, FlagControls};
use crate::app::api::flags::{
    flag_detail, FlagView, SetFlagArchived, SetFlagEnabled, SetFlagRollout, SetFlagRules,
};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::domain::flag::{BucketCheck, Capability, Flag, FlagChange, Preview};
use crate::domain::time::format_millis;

#[component]
pub fn FlagDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let tenant = move || query.read().get("tenant").unwrap_or_default();
    let check = move || query.read().get("check").unwrap_or_default();
    let actions = FlagActions {
        rollout: ServerAction::<SetFlagRollout>::new(),
        toggle: ServerAction::<SetFlagEnabled>::new(),
        archive: ServerAction::<SetFlagArchived>::new(),
    };
    let rules = ServerAction::<SetFlagRules>::new();
    let detail = Resource::new(
        move || {
            let versions = (
                actions.rollout.version().get(),
                actions.toggle.version().get(),
                actions.archive.version().get(),
                rules.version().get(),
            );
            (tenant(), key(), check(), versions)
        },
        |(t, k, c, _)| flag_detail(t, k, c),
    );
    let back = move || {
        let t = tenant();
        if t.is_empty() {
            "/flags".to_string()
        } else {
            format!("/flags?tenant={t}")
        }
    };
    view! {
        <Title text=move || format!("Flag {}", key())/>
        <p><a href=back>"← Feature toggles"</a></p>
        <h1>"Flag "<code>{key}</code></h1>
        {move || outcome(actions.rollout.value().get(), |f| format!("Rollout set to {}%.", crate::domain::flag::rollout(f).unwrap_or(0)))}
        {move || outcome(actions.toggle.value().get(), |f| format!("Now {}.", if f.enabled { "enabled" } else { "disabled" }))}
        {move || outcome(actions.archive.value().get(), |f| format!("{}.", if f.archived { "Archived: no longer served" } else { "Restored" }))}
        {move || outcome(rules.value().get(), |f| format!("Saved {} rules.", f.rules.len()))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <FlagBody detail=d tenant=tenant() actions rules/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FlagBody(
    detail: FlagView,
    tenant: String,
    actions: FlagActions,
    rules: ServerAction<SetFlagRules>,
) -> impl IntoView {
    let FlagView {
        flag,
        rules_json,
        history,
        preview,
        check,
        can_manage,
    } = detail;
    let controls = can_manage.then(|| {
        view! { <FlagControls flag=flag.clone() tenant=tenant.clone() actions/> }
    });
    let archive = (can_manage && Capability::of_key(flag.key.as_str()).is_none()).then(|| {
        view! { <ArchiveForm flag=flag.clone() tenant=tenant.clone() action=actions.archive/> }
    });
    let editor = can_manage.then(|| {
        view! { <RulesEditor flag=flag.key.to_string() tenant=tenant.clone() rules_json action=rules/> }
    });
    view! {
        <section class="card" data-testid="flag-state">
            <h2>"State"</h2>
            <p>{flag.description.clone()}</p>
            <p>
                <Badge text=super::flags::state_of(&flag).to_string()/>
                " "{flag.kind.as_str()}" flag; default "<code>{flag.default_variant.clone()}</code>
                ", when disabled "<code>{flag.off_variant.clone()}</code>
            </p>
            {controls}
            {archive}
        </section>
        <Variants flag=flag.clone()/>
        <section class="card" data-testid="flag-rules">
            <h2>"Rules"</h2>
            <p class="muted">"In order; the first that matches decides."</p>
            <ol>{flag.rules.iter().map(|r| view! { <li>{r.describe()}</li> }).collect_view()}</ol>
            {editor}
        </section>
        <WhoGetsIt flag=flag.key.to_string() tenant preview check/>
        <History changes=history/>
    }
}

#[component]
fn Variants(flag: Flag) -> impl IntoView {
    let rows = flag
        .variants
        .iter()
        .map(|v| view! { <tr><td><code>{v.name.clone()}</code></td><td><code>{v.value.to_string()}</code></td></tr> }.into_any())
        .collect();
    view! {
        <section class="card">
            <h2>"Variants"</h2>
            <DataTable columns=vec![Column::plain("Name"), Column::plain("Value")] rows empty="No variants."/>
        </section>
    }
}

#[component]
fn RulesEditor(
    flag: String,
    tenant: String,
    rules_json: String,
    action: ServerAction<SetFlagRules>,
) -> impl IntoView {
    view! {
        <details>
            <summary>"Edit rules (JSON)"</summary>
            <p class="muted">
                "Kinds: targets {keys, variant}, conditions {all: [{attribute, operator, values}], variant}, "
                "rollout {percentage, variant, group_id}, split {weights: [{variant, weight}], group_id}. "
                "Operators: in, not_in, eq, starts_with, semver_gte, gt, lt."
            </p>
            <ActionForm action attr:data-testid="flag-rules-form">
                <input type="hidden" name="tenant" value=tenant/>
                <input type="hidden" name="key" value=flag/>
                <textarea name="rules" rows="12" class="code" aria-label="rules as JSON">{rules_json}</textarea>
                <button type="submit" class="primary">"Save rules"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn WhoGetsIt(
    flag: String,
    tenant: String,
    preview: Option<Preview>,
    check: Option<BucketCheck>,
) -> impl IntoView {
    let asked = check
        .as_ref()
        .map(|c| c.targeting_key.clone())
        .unwrap_or_default();
    let label = if tenant.is_empty() {
        "Tenant (name or id) or any key"
    } else {
        "Targeting key"
    };
    view! {
        <section class="card" data-testid="flag-who">
            <h2>"Who gets it"</h2>
            {preview.map(|p| view! { <PreviewTable preview=p/> })}
            <form method="get" action=flag_href(&flag, "") class="inline" data-testid="bucket-check">
                {(!tenant.is_empty()).then(|| view! { <input type="hidden" name="tenant" value=tenant.clone()/> })}
                <label>{label}" " <input name="check" value=asked required/></label>
                <button type="submit" class="small">"Check"</button>
            </form>
            {check.map(|c| view! { <CheckResult check=c/> })}
        </section>
    }
}

#[component]
fn PreviewTable(preview: Preview) -> impl IntoView {
    let counts: Vec<String> = preview
        .by_variant
        .iter()
        .map(|(v, n)| format!("{v}: {n}"))
        .collect();
    let rows = preview
        .listed
        .iter()
        .map(|(name, id, v)| {
            view! {
                <tr><td><a href=format!("/tenants/{id}")>{name.clone()}</a></td>
                    <td><Badge text=v.variant.clone()/></td><td>{why(v)}</td></tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <p data-testid="preview-counts">{format!("{} {} — {}", preview.tenants, crate::domain::page::noun(preview.tenants as i64, "tenant", "tenants"), counts.join(", "))}</p>
        <DataTable columns=vec![Column::plain("Tenant"), Column::plain("Gets"), Column::plain("Why")]
            rows testid="flag-preview" empty="No tenants yet."/>
    }
}

#[component]
fn CheckResult(check: BucketCheck) -> impl IntoView {
    let buckets = check
        .buckets
        .iter()
        .map(|b| {
            view! {
                <li>{format!("rule {}: bucket {} of {} → {}", b.rule + 1, b.bucket, b.out_of,
                    b.variant.clone().unwrap_or_else(|| "not in".to_string()))}</li>
            }
        })
        .collect_view();
    view! {
        <div data-testid="bucket-result">
            <p><code>{check.targeting_key.clone()}</code>" gets "<strong>{check.verdict.variant.clone()}</strong>
                " — "{why(&check.verdict)}</p>
            <ul>{buckets}</ul>
        </div>
    }
}

#[component]
fn History(changes: Vec<FlagChange>) -> impl IntoView {
    let rows = changes
        .into_iter()
        .map(|c| {
            view! {
                <tr><td><a href=format!("/audit/{}", c.event_id)>{format_millis(c.at)}</a></td>
                    <td>{c.actor}</td><td><code>{c.action}</code></td><td>{c.summary}</td></tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <section class="card" id="history">
            <h2>"History"</h2>
            <DataTable columns=vec![Column::plain("When"), Column::plain("Who"), Column::plain("Action"), Column::plain("Change")]
                rows testid="flag-history" empty="No changes recorded."/>
        </section>
    }
}

/// Archive (stop serving, keep the flag and its history) or restore.
#[component]
fn ArchiveForm(flag: Flag, tenant: String, action: ServerAction<SetFlagArchived>) -> impl IntoView {
    let label = if flag.archived { "Restore" } else { "Archive" };
    view! {
        <ActionForm action attr:class="inline" attr:data-testid="flag-archive">
            <input type="hidden" name="tenant" value=tenant/>
            <input type="hidden" name="key" value=flag.key.to_string()/>
            <input type="hidden" name="archived" value=(!flag.archived).to_string()/>
            <button type="submit" class="small">{label}</button>
        </ActionForm>
    }
}

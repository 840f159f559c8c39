use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::app::api::budgets::{tenant_budgets, RemoveBudget, SetBudget};
use crate::app::api::catalog::tenant_usage;
use crate::app::api::flags::tenant_platform_flags;
use crate::app::api::invoices::tenant_invoices;
use crate::app::api::keys::{list_keys, CreateKey, RevokeKey};
use crate::app::api::tenants::{
    get_tenant, get_tenant_data, DeleteTenant, SetAuditRetention, SetTenantIsolation,
    SetTenantStatus, UpdateTenant,
};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::app::pages::budgets::{BudgetBanner, BudgetsSection};
use crate::app::pages::flags::TenantFlags;
use crate::app::pages::invoice::InvoicesSection;
use crate::app::pages::layout::MeResource;
use crate::app::pages::usage_summary::UsageSummary;
use crate::domain::api_key::{ApiKey, KeyStatus};
use crate::domain::tenant::{IsolationLevel, Tenant, TenantData, TenantStatus};
use crate::domain::time::{format_millis, format_opt, now_millis};

#[component]
pub fn TenantDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let update = ServerAction::<UpdateTenant>::new();
    let status = ServerAction::<SetTenantStatus>::new();
    let create_key = ServerAction::<CreateKey>::new();
    let revoke_key = ServerAction::<RevokeKey>::new();
    let move_data = ServerAction::<SetTenantIsolation>::new();
    let retention = ServerAction::<SetAuditRetention>::new();
    let set_budget = ServerAction::<SetBudget>::new();
    let remove_budget = ServerAction::<RemoveBudget>::new();
    // Every resource is created here, before any suspense, so the server and
    // the browser create them in the same order and hydration lines up.
    let tenant = Resource::new(
        move || {
            let versions = (
                update.version().get() + retention.version().get(),
                status.version().get(),
            );
            (id(), versions, move_data.version().get())
        },
        |(id, _, _)| get_tenant(id),
    );
    let data = Resource::new(
        move || (id(), move_data.version().get()),
        |(id, _)| get_tenant_data(id),
    );
    let usage = Resource::new(id, tenant_usage);
    let invoices = Resource::new(id, tenant_invoices);
    let budgets = Resource::new(
        move || {
            (
                id(),
                set_budget.version().get(),
                remove_budget.version().get(),
            )
        },
        |(id, _, _)| tenant_budgets(id),
    );
    let platform_flags = Resource::new(id, tenant_platform_flags);
    let me = expect_context::<MeResource>();
    // Only those who may manage the tenant's keys ask for them: a viewer's
    // page makes no call it would be refused.
    let keys = Resource::new(
        move || (id(), create_key.version().get(), revoke_key.version().get()),
        move |(id, _, _)| async move {
            let may = me.await.ok().flatten().is_some_and(|m| m.can_manage(&id));
            if may {
                list_keys(id).await
            } else {
                Ok(Vec::new())
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                match tenant.await {
                    Ok(t) => {
                        let admin = me.as_ref().is_some_and(|m| m.is_platform_admin());
                        let manage = me.as_ref().is_some_and(|m| m.can_manage(&t.id));
                        view! {
                            <Title text=t.name.clone()/>
                            <BudgetBanner budgets/>
                            <TenantHeader tenant=t.clone()/>
                            <UsageSummary usage/>
                            <BudgetsSection tenant_id=t.id.to_string() budgets set=set_budget
                                remove=remove_budget admin/>
                            <InvoicesSection tenant_id=t.id.to_string() invoices/>
                            <DataSection tenant=t.clone() data admin action=move_data/>
                            <TenantFlags flags=platform_flags/>
                            {admin.then(|| view! { <SettingsForm tenant=t.clone() action=update status/> })}
                            {admin.then(|| view! { <RetentionForm tenant=t.clone() action=retention/> })}
                            {manage.then(|| view! {
                                <KeysSection tenant_id=t.id.to_string() keys create=create_key revoke=revoke_key/>
                            })}
                            {admin.then(|| view! { <DeleteForm tenant=t.clone()/> })}
                        }.into_any()
                    }
                    Err(e) => view! { <Title text="Tenant"/><ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TenantHeader(tenant: Tenant) -> impl IntoView {
    view! {
        <h1>{tenant.name.clone()} " " <Badge text=tenant.status.as_str().to_string()/></h1>
        <dl class="facts">
            <dt>"Id"</dt><dd><code>{tenant.id.to_string()}</code></dd>
            <dt>"Isolation"</dt><dd>{tenant.isolation.label()}</dd>
            <dt>"Data location"</dt><dd>{tenant.data_location.clone()}</dd>
            <dt>"Limits"</dt><dd>{format!("{} requests/min · {} tokens/min", tenant.rpm_limit, tenant.tpm_limit)}</dd>
            <dt>"Created"</dt><dd>{format_millis(tenant.created_at)}</dd>
        </dl>
        <p><a href=format!("/tenants/{}/usage", tenant.id) data-testid="usage-link">"Usage dashboard →"</a></p>
    }
}

#[component]
fn SettingsForm(
    tenant: Tenant,
    action: ServerAction<UpdateTenant>,
    status: ServerAction<SetTenantStatus>,
) -> impl IntoView {
    let id = tenant.id.clone();
    let (next, label) = match tenant.status {
        TenantStatus::Active => ("suspended", "Suspend tenant"),
        TenantStatus::Suspended => ("active", "Resume tenant"),
    };
    view! {
        <section class="card">
            <h2>"Settings"</h2>
            {move || outcome(action.value().get(), |_| "Settings saved.".to_string())}
            {move || outcome(status.value().get(), |t| format!("Tenant is now {}.", t.status.as_str()))}
            <ActionForm action=action attr:class="grid-form">
                <input type="hidden" name="id" value=tenant.id.to_string()/>
                <label>"Name" <input name="name" value=tenant.name.clone() required/></label>
                <label>"Data location" <input name="data_location" value=tenant.data_location.clone() required/></label>
                <label>"Requests / minute" <input name="rpm_limit" type="number" min="1" value=tenant.rpm_limit.to_string()/></label>
                <label>"Tokens / minute" <input name="tpm_limit" type="number" min="1" value=tenant.tpm_limit.to_string()/></label>
                <button type="submit" class="primary">"Save settings"</button>
            </ActionForm>
            <ActionForm action=status attr:class="inline">
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="status" value=next/>
                <button type="submit" class="warn">{label}</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn KeysSection(
    tenant_id: String,
    keys: Resource<Result<Vec<ApiKey>, ServerFnError>>,
    create: ServerAction<CreateKey>,
    revoke: ServerAction<RevokeKey>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"API keys"</h2>
            {move || create.value().get().map(|r| match r {
                Ok(k) => view! {
                    <div class="flash success new-key" role="status">
                        <p>"Copy this key now. It will not be shown again."</p>
                        <code class="secret" data-testid="new-key">{k.key}</code>
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
            {move || outcome(revoke.value().get(), |k| format!("Revoked {}.", k.prefix))}
            <ActionForm action=create attr:class="grid-form">
                <input type="hidden" name="tenant_id" value=tenant_id.clone()/>
                <label>"Name" <input name="name" placeholder="e.g. production"/></label>
                <label>"Expires in (days)" <input name="expires_in_days" type="number" min="1" placeholder="never"/></label>
                <button type="submit" class="primary">"Create key"</button>
            </ActionForm>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(keys) => {
                            let now = now_millis();
                            let rows = keys.into_iter()
                                .map(|k| view! { <KeyRow key=k now revoke/> }.into_any())
                                .collect();
                            view! {
                                <DataTable columns=KEY_COLUMNS.to_vec() rows class="keys"
                                    empty="No API keys yet."/>
                            }.into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

const KEY_COLUMNS: [Column; 7] = [
    Column::plain("Name"),
    Column::plain("Key"),
    Column::plain("Created"),
    Column::plain("Last used"),
    Column::plain("Expires"),
    Column::plain("Status"),
    Column::plain(""),
];

#[component]
fn KeyRow(key: ApiKey, now: i64, revoke: ServerAction<RevokeKey>) -> impl IntoView {
    let k = key;
    let st = k.status(now);
    let key_id = k.id.clone();
    view! {
        <tr data-key-id=k.id.clone()>
            <td>{k.name.clone()}</td>
            <td><code>{format!("{}_…", k.prefix)}</code></td>
            <td>{format_millis(k.created_at)}</td>
            <td>{format_opt(k.last_used_at)}</td>
            <td>{format_opt(k.expires_at)}</td>
            <td><Badge text=st.as_str().to_string()/></td>
            <td>
                {(st == KeyStatus::Active).then(|| view! {
                    <ActionForm action=revoke attr:class="inline">
                        <input type="hidden" name="id" value=key_id.clone()/>
                        <button type="submit" class="warn small">"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

#[component]
fn RetentionForm(tenant: Tenant, action: ServerAction<SetAuditRetention>) -> impl IntoView {
    let current = tenant
        .audit_retention_days
        .map(|d| d.to_string())
        .unwrap_or_default();
    view! {
        <section class="card">
            <h2>"Audit retention"</h2>
            {move || outcome(action.value().get(), |t| match t.audit_retention_days {
                Some(d) => format!("Audit events are kept for {d} days."),
                None => "Audit events are kept forever.".to_string(),
            })}
            <ActionForm action=action attr:class="inline">
                <input type="hidden" name="id" value=tenant.id.to_string()/>
                <label>"Keep audit events for "
                    <input name="days" type="number" min="1" max="36500" value=current placeholder="forever"/>
                    " days"
                </label>
                <button type="submit">"Save retention"</button>
            </ActionForm>
        </section>
    }
}

/// Where the tenant's data lives, and (for platform admins) moving it.
#[component]
fn DataSection(
    tenant: Tenant,
    data: Resource<Result<TenantData, ServerFnError>>,
    admin: bool,
    action: ServerAction<SetTenantIsolation>,
) -> impl IntoView {
    let current = tenant.isolation;
    view! {
        <section class="card" data-testid="tenant-data">
            <h2>"Data store"</h2>
            {move || outcome(action.value().get(), |r| format!(
                "Moved {} rows from {} to {}; counts verified.", r.rows_copied, r.from_location, r.to_location))}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! { <DataFacts data=d/> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            {admin.then(|| view! {
                <ActionForm action=action attr:class="inline">
                    <input type="hidden" name="id" value=tenant.id.to_string()/>
                    <label>"Move to "
                        <select name="level">
                            {IsolationLevel::ALL.into_iter().filter(|l| *l != current).map(|l| view! {
                                <option value=l.as_str()>{l.label()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label class="confirm">
                        <input type="checkbox" name="confirm" required/>
                        " Copy the data, verify it, then remove the old store"
                    </label>
                    <button type="submit" class="warn">"Move data"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn DataFacts(data: TenantData) -> impl IntoView {
    let size = data
        .bytes
        .map_or_else(|| "unknown".to_string(), format_bytes);
    view! {
        <dl class="facts">
            <dt>"Isolation"</dt><dd data-testid="data-level">{data.level.label()}</dd>
            <dt>"Stored in"</dt><dd><code data-testid="data-location">{data.location.clone()}</code></dd>
            {data.moving_to.map(|l| view! { <dt>"Moving to"</dt><dd>{l.label()}</dd> })}
            <dt>"Size"</dt><dd>{size}</dd>
            {data.rows.into_iter().map(|(table, n)| view! {
                <dt>{table}</dt><dd data-testid="data-rows">{format!("{n} {}", crate::domain::page::noun(n, "row", "rows"))}</dd>
            }).collect_view()}
        </dl>
    }
}

fn format_bytes(b: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[component]
fn DeleteForm(tenant: Tenant) -> impl IntoView {
    let delete = ServerAction::<DeleteTenant>::new();
    view! {
        <section class="card danger">
            <h2>"Delete tenant"</h2>
            <p>"This removes the tenant, its API keys and its users, and erases its usage data "
               "wherever it is stored. It cannot be undone. "
               "Type the tenant's name to confirm."</p>
            {move || outcome(delete.value().get(), |_| "Tenant deleted.".to_string())}
            <ActionForm action=delete attr:class="inline">
                <input type="hidden" name="id" value=tenant.id.to_string()/>
                <input name="confirm_name" placeholder=tenant.name.clone() autocomplete="off"/>
                <button type="submit" class="danger">"Delete tenant"</button>
            </ActionForm>
        </section>
    }
}

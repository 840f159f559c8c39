//! Admin tokens: the credentials automation calls `/admin/v1` with.
//! Platform admins create one per pipeline, see when each was last used,
//! and revoke it. Forms work before the wasm loads.

use crate::app::components::tenant_select::TenantSelect;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::admin_tokens::{list_admin_tokens, CreateAdminToken, RevokeAdminToken};
use crate::app::api::tenants::tenant_options;
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::domain::admin_token::{AdminToken, Scope};
use crate::domain::time::{format_millis, format_opt, now_millis};

const COLUMNS: [Column; 7] = [
    Column::plain("Name"),
    Column::plain("Token"),
    Column::plain("Scope"),
    Column::plain("Status"),
    Column::plain("Created"),
    Column::plain("Last used"),
    Column::plain("Actions"),
];

#[component]
pub fn AdminTokensPage() -> impl IntoView {
    let create = ServerAction::<CreateAdminToken>::new();
    let revoke = ServerAction::<RevokeAdminToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_admin_tokens(),
    );
    let tenants = Resource::new(|| (), |_| tenant_options());
    view! {
        <Title text="Admin API"/>
        <h1>"Admin API"</h1>
        <p class="muted">
            "Automation calls " <code>"/admin/v1"</code> " with these tokens. The API is described by its "
            <a href="/admin/v1/openapi.json" data-testid="openapi-link">"OpenAPI 3.1 document"</a>
            ", browsable in the " <a href="/admin/v1/docs" rel="external">"interactive reference"</a> "."
        </p>
        {move || outcome(revoke.value().get(), |t| format!("Revoked {}.", t.prefix))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) => {
                        let rows = list.into_iter()
                            .map(|t| view! { <TokenRow token=t revoke/> }.into_any())
                            .collect();
                        view! { <DataTable columns=COLUMNS.to_vec() rows empty="No admin tokens yet."/> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <section class="card">
            <h2>"New admin token"</h2>
            {move || create.value().get().map(|r| match r {
                Ok(t) => view! {
                    <div class="flash success new-key" role="status">
                        <p>"Copy this token now. It will not be shown again."</p>
                        <code class="secret" data-testid="new-key">{t.token}</code>
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
            <ActionForm action=create attr:class="grid-form">
                <label>"Name" <input name="name" required placeholder="e.g. onboarding pipeline"/></label>
                <label>"Scope"
                    <select name="scope">
                        {Scope::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let options = tenants.await.unwrap_or_default();
                        view! {
                            <label>"Tenant (tenant scopes)"
                                <TenantSelect options selected="" none="— none (platform scopes) —"/>
                            </label>
                        }
                    })}
                </Suspense>
                <label>"Expires in days" <input name="expires_in_days" type="number" min="1" max="3650" placeholder="never"/></label>
                <label>"Requests / minute" <input name="rate_per_minute" type="number" min="1" placeholder="600"/></label>
                <button type="submit" class="primary">"Create token"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn TokenRow(token: AdminToken, revoke: ServerAction<RevokeAdminToken>) -> impl IntoView {
    let status = token.status(now_millis()).as_str();
    let live = status == "active";
    let scope = match &token.tenant_id {
        Some(t) => format!("{} ({t})", token.scope),
        None => token.scope.to_string(),
    };
    view! {
        <tr>
            <td>{token.name.clone()}</td>
            <td><code>{token.prefix.clone()}</code></td>
            <td>{scope}</td>
            <td><Badge text=status.to_string()/></td>
            <td>{format_millis(token.created_at)}</td>
            <td>{format_opt(token.last_used_at)}</td>
            <td class="actions">
                {live.then(|| view! {
                    <ActionForm action=revoke attr:class="inline">
                        <input type="hidden" name="id" value=token.id.clone()/>
                        <button type="submit" class="small warn">"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

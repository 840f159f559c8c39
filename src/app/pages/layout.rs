use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

use crate::app::api::session::{current_user, take_flash, Me};
use crate::domain::flash::{Flash, FlashKind};

pub type MeResource = Resource<Result<Option<Me>, ServerFnError>>;

/// The frame of every signed-in page: sidebar, and the page in `<main>`.
/// Anyone not signed in is sent to the login page.
#[component]
pub fn Layout() -> impl IntoView {
    let me: MeResource = Resource::new(|| (), |_| current_user());
    // The outcome of a form posted before the app loaded, shown once.
    let flash = Resource::new(|| (), |_| take_flash());
    provide_context(me);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => {
                        let flash = flash.await.ok().flatten();
                        view! {
                            <div class="shell">
                                <Sidebar me/>
                                <main class="content">{flash.map(|f| view! { <FlashNote flash=f/> })}<Outlet/></main>
                            </div>
                        }.into_any()
                    }
                    _ => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Sidebar(me: Me) -> impl IntoView {
    let admin = me.is_platform_admin();
    let own_tenant = me.tenant_id.clone().filter(|_| !admin);
    let can_manage_users = admin || me.role == crate::domain::role::Role::TenantAdmin;
    view! {
        <nav class="sidebar">
            <div class="brand">"Atrium"</div>
            <ul>
                <li><A href="/">"Dashboard"</A></li>
                {admin.then(|| view! { <li><A href="/tenants">"Tenants"</A></li> })}
                {admin.then(|| view! { <li><A href="/models">"Providers & models"</A></li> })}
                {admin.then(|| view! { <li><A href="/billing">"Usage & billing"</A></li> })}
                {own_tenant.clone().map(|t| view! { <li><A href=format!("/tenants/{t}")>"My tenant"</A></li> })}
                {own_tenant.clone().map(|t| view! { <li><A href=format!("/tenants/{t}/usage")>"Usage"</A></li> })}
                {can_manage_users.then(|| view! { <li><A href="/users">"Users"</A></li> })}
                {can_manage_users.then(|| {
                    let policies = own_tenant.clone().map_or_else(|| "/policies".to_string(), |t| format!("/policies?tenant={t}"));
                    view! { <li><A href=policies>"Policies"</A></li> }
                })}
                {
                    let flags = own_tenant.clone().map_or_else(|| "/flags".to_string(), |t| format!("/flags?tenant={t}"));
                    view! { <li><A href=flags>"Feature toggles"</A></li> }
                }
                {
                    let deployments = own_tenant.clone().map_or_else(|| "/deployments".to_string(), |t| format!("/deployments?tenant={t}"));
                    view! { <li><A href=deployments>"Model deployments"</A></li> }
                }
                {can_manage_users.then(|| view! { <li><A href="/audit">"Audit log"</A></li> })}
                {can_manage_users.then(|| view! { <li><A href="/compliance">"Compliance"</A></li> })}
                {admin.then(|| view! { <li><A href="/admin-tokens">"Admin API"</A></li> })}
                {admin.then(|| view! { <li><A href="/operations">"Operations"</A></li> })}
            </ul>
            <div class="whoami">
                <A href="/account"><span class="email">{me.email.clone()}</span></A>
                <span class="muted">{me.role.label()}</span>
                <form method="post" action="/auth/sign-out">
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            </div>
        </nav>
    }
}

#[component]
fn FlashNote(flash: Flash) -> impl IntoView {
    let (class, role) = match flash.kind {
        FlashKind::Success => ("flash success", "status"),
        FlashKind::Error => ("flash error", "alert"),
    };
    view! {
        <div class=class role=role data-testid="flash">
            <p>{flash.message}</p>
            {flash.secret.map(|s| view! { <code class="secret" data-testid="new-key">{s}</code> })}
        </div>
    }
}

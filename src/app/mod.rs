//! The admin portal: rendered on the server, hydrated in the browser.

pub mod api;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use pages::{
    account, admin_tokens, audit, billing, compliance, dashboard, deployments, flag_detail, flags,
    invoice, layout, login, models, not_found, operations, policies, tenant_detail, tenants, usage,
    users,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta http-equiv="Content-Security-Policy" content=script_policy()/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Scripts run only with this response's nonce (leptos puts it on the
/// hydration and streaming scripts) or when loaded by such a script, and
/// the wasm needs `'wasm-unsafe-eval'`: an injected `<script>` does not
/// run. Set here, not in the header middleware, because the nonce is made
/// per render; the header's policy (framing, base, forms) applies as well.
fn script_policy() -> String {
    leptos::nonce::use_nonce()
        .map(|n| format!("script-src 'nonce-{n}' 'strict-dynamic' 'wasm-unsafe-eval'"))
        .unwrap_or_default()
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: this marks the page as interactive,
    // which end-to-end tests wait for before using forms.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/atrium.css"/>
        <Title formatter=|page: String| format!("{page} · Atrium")/>
        <Router>
            <Routes fallback=not_found::NotFound>
                <Route path=path!("/login") view=login::LoginPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=layout::Layout ssr=SsrMode::Async>
                    <Route path=path!("") view=dashboard::DashboardPage/>
                    <Route path=path!("tenants") view=tenants::TenantsPage/>
                    <Route path=path!("tenants/:id") view=tenant_detail::TenantDetailPage/>
                    <Route path=path!("tenants/:id/invoices/:month") view=invoice::InvoicePage/>
                    <Route path=path!("tenants/:id/usage") view=usage::UsagePage/>
                    <Route path=path!("users") view=users::UsersPage/>
                    <Route path=path!("admin-tokens") view=admin_tokens::AdminTokensPage/>
                    <Route path=path!("models") view=models::ModelsPage/>
                    <Route path=path!("audit") view=audit::AuditPage/>
                    <Route path=path!("audit/:id") view=audit::AuditEventPage/>
                    <Route path=path!("policies") view=policies::PoliciesPage/>
                    <Route path=path!("billing") view=billing::BillingPage/>
                    <Route path=path!("flags") view=flags::FlagsPage/>
                    <Route path=path!("flags/:key") view=flag_detail::FlagDetailPage/>
                    <Route path=path!("deployments") view=deployments::DeploymentsPage/>
                    <Route path=path!("compliance") view=compliance::CompliancePage/>
                    <Route path=path!("account") view=account::AccountPage/>
                    <Route path=path!("operations") view=operations::OperationsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

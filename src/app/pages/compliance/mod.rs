//! Compliance (`/compliance?tenant=`): the tenant's request-log settings
//! and contacts, report generation, and the issued reports with their
//! downloads. Tenant admins see their own tenant; platform admins pick a
//! tenant or the platform. Plain forms: they work before the wasm loads.

mod breaches;
mod reviews;

use crate::app::components::tenant_select::TenantSelect;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::api::compliance::{
    compliance_view, ComplianceOverview, GenerateReport, SetComplianceContacts, SetRequestLog,
};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::domain::compliance::{ReportKind, ReportSummary};
use crate::domain::request_log::LogMode;
use crate::domain::time::{format_millis, rfc3339};

#[component]
pub fn CompliancePage() -> impl IntoView {
    let query = use_query_map();
    let tenant = move || query.read().get("tenant").unwrap_or_default();
    let log = ServerAction::<SetRequestLog>::new();
    let contacts = ServerAction::<SetComplianceContacts>::new();
    let generate = ServerAction::<GenerateReport>::new();
    let tenant_signal = Signal::derive(tenant);
    let (start, attest) = (ServerAction::new(), ServerAction::new());
    let review_list = reviews::reviews(tenant_signal, start, attest);
    let (record, notify) = (ServerAction::new(), ServerAction::new());
    let breach_lines = breaches::lines(tenant_signal, record, notify);
    let data = Resource::new(
        move || {
            let versions = (log.version().get(), contacts.version().get());
            (tenant(), versions, generate.version().get())
        },
        |(t, _, _)| compliance_view(t),
    );
    view! {
        <Title text="Compliance"/>
        <h1>"Compliance"</h1>
        {move || outcome(log.value().get(), |s| format!("Request log: {}.", s.mode.label()))}
        {move || outcome(contacts.value().get(), |_| "Contacts saved.".to_string())}
        {move || outcome(generate.value().get(), |id| format!("Report {id} generated: it heads the list below."))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <Compliance v log contacts generate/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <reviews::AccessReviews tenant=tenant_signal reviews=review_list start attest/>
        <breaches::BreachRegister tenant=tenant_signal lines=breach_lines record notify/>
    }
}

#[component]
fn Compliance(
    v: ComplianceOverview,
    log: ServerAction<SetRequestLog>,
    contacts: ServerAction<SetComplianceContacts>,
    generate: ServerAction<GenerateReport>,
) -> impl IntoView {
    let picker = (!v.tenants.is_empty()).then(|| picker(&v));
    let tenant_id = v.tenant.as_ref().map(|(id, _)| id.clone());
    let heading = v
        .tenant
        .as_ref()
        .map_or("The platform".to_string(), |(_, n)| n.clone());
    let settings = tenant_id
        .clone()
        .map(|id| view! { <Settings tenant_id=id v=v.clone() log contacts/> });
    let rows = v.reports.iter().map(report_row).collect();
    view! {
        {picker}
        <h2>{heading}</h2>
        {settings}
        <GenerateForm tenant_id=tenant_id.unwrap_or_default() generate/>
        <section class="card">
            <h2>"Issued reports"</h2>
            <DataTable columns=REPORT_COLUMNS.to_vec() rows testid="compliance-reports"
                empty="No reports issued yet."/>
        </section>
    }
}

fn picker(v: &ComplianceOverview) -> impl IntoView {
    let current = v
        .tenant
        .as_ref()
        .map(|(id, _)| id.clone())
        .unwrap_or_default();
    let options = v.tenants.clone();
    view! {
        <form method="get" action="/compliance" class="filters">
            <label>"Tenant "
                <TenantSelect options selected=current none="The platform"/>
            </label>
            <button type="submit">"Show"</button>
        </form>
    }
}

#[component]
fn Settings(
    tenant_id: String,
    v: ComplianceOverview,
    log: ServerAction<SetRequestLog>,
    contacts: ServerAction<SetComplianceContacts>,
) -> impl IntoView {
    let modes = LogMode::ALL
        .into_iter()
        .map(|m| {
            let selected = m == v.request_log.mode;
            view! { <option value=m.as_str() selected=selected>{m.label()}</option> }
        })
        .collect_view();
    let contacts_tenant = tenant_id.clone();
    let days = v
        .request_log
        .retention_days
        .map(|d| d.to_string())
        .unwrap_or_default();
    view! {
        <section class="card" id="request-log">
            <h2>"Request log"</h2>
            <p class="muted">"Off by default. Full keeps each prompt and answer as they left Atrium, \
                after your redaction policies; hashes keeps only their SHA-256. Subjects are \
                indexed by keyed hashes, never in clear."</p>
            <ActionForm action=log attr:class="stacked">
                <input type="hidden" name="tenant_id" value=tenant_id/>
                <label>"Mode " <select name="mode" data-testid="request-log-mode">{modes}</select></label>
                <label>"Retention (days, empty keeps rows until erased) "
                    <input type="number" name="retention_days" min="1" max="3650" value=days/></label>
                <button type="submit">"Save request log"</button>
            </ActionForm>
        </section>
        <section class="card" id="contacts">
            <h2>"Controller and DPO"</h2>
            <ActionForm action=contacts attr:class="stacked">
                <input type="hidden" name="tenant_id" value=contacts_tenant/>
                <label>"Controller contact " <input type="text" name="controller" maxlength="500"
                    value=v.controller.unwrap_or_default()/></label>
                <label>"DPO contact " <input type="text" name="dpo" maxlength="500"
                    value=v.dpo.unwrap_or_default()/></label>
                <button type="submit">"Save contacts"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn GenerateForm(tenant_id: String, generate: ServerAction<GenerateReport>) -> impl IntoView {
    let today = rfc3339(crate::domain::time::now_millis())
        .chars()
        .take(10)
        .collect::<String>();
    let kinds = [
        ReportKind::Ropa,
        ReportKind::Processor,
        ReportKind::Access,
        ReportKind::Soc2,
    ]
    .into_iter()
    .filter(|k| !tenant_id.is_empty() || matches!(k, ReportKind::Processor | ReportKind::Soc2))
    .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
    .collect_view();
    view! {
        <section class="card" id="generate">
            <h2>"Generate a report"</h2>
            <ActionForm action=generate attr:class="stacked">
                <input type="hidden" name="tenant_id" value=tenant_id/>
                <label>"Report " <select name="kind" data-testid="report-kind">{kinds}</select></label>
                <label>"From " <input type="date" name="from" value=today.clone() required/></label>
                <label>"To " <input type="date" name="to" value=today required/></label>
                <label>"Subject (access reports: e-mail, phone or end-user id) "
                    <input type="text" name="subject" maxlength="256"/></label>
                <button type="submit">"Generate and sign"</button>
            </ActionForm>
        </section>
    }
}

const REPORT_COLUMNS: [Column; 6] = [
    Column::plain("Report"),
    Column::plain("Kind"),
    Column::plain("Period"),
    Column::plain("Issued"),
    Column::plain("By"),
    Column::plain("Download"),
];

fn report_row(r: &ReportSummary) -> AnyView {
    let href = |f: &str| format!("/compliance/reports/{}?format={f}", r.id);
    let day = |ms: i64| rfc3339(ms).chars().take(10).collect::<String>();
    // The period's end is exclusive: show the last day it covers.
    let period = format!("{} to {}", day(r.period_from), day(r.period_to - 1));
    view! {
        <tr>
            <td><a href=href("html") data-testid="report-page">{r.id.clone()}</a></td>
            <td>{r.kind.label()}</td>
            <td>{period}</td>
            <td>{format_millis(r.created_at)}</td>
            <td>{r.created_by.clone()}</td>
            <td>
                <a href=href("json") download data-testid="report-json">"JSON"</a>" · "
                <a href=href("csv") download>"CSV"</a>
                {(r.kind == ReportKind::Soc2).then(|| view! { " · " <a href=href("zip") download>"Evidence pack (zip)"</a> })}
            </td>
        </tr>
    }
    .into_any()
}

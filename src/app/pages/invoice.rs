//! Invoices: the list on the tenant page, and the printable invoice page
//! (the browser's print-to-PDF gives the PDF), with CSV and JSON downloads
//! and, for platform admins, the button that issues a closed month.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::app::api::invoices::{get_invoice, IssueInvoice};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::app::components::status::Badge;
use crate::app::pages::layout::MeResource;
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::domain::pricing::format_money;
use crate::domain::time::format_opt;

pub type InvoicesResource = Resource<Result<Vec<Invoice>, ServerFnError>>;

const LIST_COLUMNS: [Column; 4] = [
    Column::plain("Month"),
    Column::plain("Invoice"),
    Column::plain("Status"),
    Column::plain("Total"),
];

/// The tenant's invoices: drafts of the open months, then issued ones.
#[component]
pub fn InvoicesSection(tenant_id: String, invoices: InvoicesResource) -> impl IntoView {
    view! {
        <section class="card" id="invoices">
            <h2>"Invoices"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || { let tid = tenant_id.clone(); Suspend::new(async move {
                    match invoices.await {
                        Ok(list) => {
                            let rows = list.into_iter().map(|i| {
                                let href = format!("/tenants/{tid}/invoices/{}", i.month);
                                view! {
                                    <tr>
                                        <td><a href=href>{i.month.to_string()}</a></td>
                                        <td>{i.number.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td><Badge text=i.status.as_str().to_string()/></td>
                                        <td>{format_money(i.total_micros)}</td>
                                    </tr>
                                }.into_any()
                            }).collect();
                            view! { <DataTable columns=LIST_COLUMNS.to_vec() rows class="invoices" empty="No invoices."/> }.into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}}
            </Suspense>
        </section>
    }
}

const LINE_COLUMNS: [Column; 4] = [
    Column::plain("Description"),
    Column::plain("Quantity"),
    Column::plain("Unit price"),
    Column::plain("Amount"),
];

#[component]
pub fn InvoicePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let month = move || params.read().get("month").unwrap_or_default();
    let issue = ServerAction::<IssueInvoice>::new();
    let invoice = Resource::new(
        move || (id(), month(), issue.version().get()),
        |(id, month, _)| get_invoice(id, month),
    );
    let me = expect_context::<MeResource>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let admin = me.await.ok().flatten().is_some_and(|m| m.is_platform_admin());
                match invoice.await {
                    Ok(inv) => view! { <InvoiceView inv admin issue/> }.into_any(),
                    Err(e) => view! { <Title text="Invoice"/><ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn InvoiceView(inv: Invoice, admin: bool, issue: ServerAction<IssueInvoice>) -> impl IntoView {
    let title = inv
        .number
        .clone()
        .unwrap_or_else(|| format!("Draft invoice {}", inv.month));
    let base = format!("/tenants/{}/invoices/{}", inv.tenant_id, inv.month);
    let rows =
        inv.lines
            .iter()
            .map(|l| {
                view! {
        <tr>
            <td>{l.description.clone()}</td>
            <td class="num">{format!("{} {}", l.quantity, l.unit)}</td>
            <td class="num">{l.unit_price_micros.map(format_money).unwrap_or_default()}</td>
            <td class="num">{format_money(l.amount_micros)}</td>
        </tr>
    }.into_any()
            })
            .collect();
    let draft = inv.status == InvoiceStatus::Draft;
    view! {
        <Title text=title.clone()/>
        <article class="invoice">
            <header>
                <h1>{title} " " <Badge text=inv.status.as_str().to_string()/></h1>
                <dl class="facts">
                    <dt>"Tenant"</dt><dd><a href=format!("/tenants/{}", inv.tenant_id)>{inv.tenant_name.clone()}</a></dd>
                    <dt>"Period"</dt><dd>{format!("{} (UTC)", inv.month)}</dd>
                    <dt>"Issued"</dt><dd>{format_opt(inv.issued_at)}</dd>
                    <dt>"Metered usage"</dt><dd>{format_money(inv.usage_micros)}</dd>
                </dl>
                {draft.then(|| view! {
                    <p class="hint">"A draft: its totals move until the month has closed and the invoice is issued."</p>
                })}
            </header>
            <DataTable columns=LINE_COLUMNS.to_vec() rows class="lines" empty="Nothing to bill."/>
            <p class="total" data-testid="invoice-total">"Total " <strong>{format_money(inv.total_micros)}</strong></p>
            <p class="no-print">
                <a href=format!("{base}/download?format=csv") download>"Download CSV"</a> " · "
                <a href=format!("{base}/download?format=json") download>"JSON"</a> " · "
                "Print this page for a PDF."
            </p>
            // Outside the draft-only block: the issued invoice replaces the
            // draft, and the outcome stays.
            <div class="no-print">
                {move || outcome(issue.value().get(), |i| format!("Issued {}.", i.number.clone().unwrap_or_default()))}
            </div>
            {(admin && draft).then(|| view! {
                <div class="no-print">
                    <ActionForm action=issue attr:class="inline">
                        <input type="hidden" name="id" value=inv.tenant_id.to_string()/>
                        <input type="hidden" name="month" value=inv.month.to_string()/>
                        <button type="submit" class="primary">"Issue invoice"</button>
                    </ActionForm>
                </div>
            })}
        </article>
    }
}

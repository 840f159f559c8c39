//! The breach register on the Compliance page: every breach with its
//! 72-hour deadline counting down, a form to record one and a button to
//! record the notification. Plain forms: they work before the wasm loads.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::app::api::compliance::{breach_register, BreachLine, NotifyBreach, RecordBreach};
use crate::app::components::data_table::{Column, DataTable};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::domain::time::rfc3339;

pub type BreachLines = Resource<Result<Vec<BreachLine>, ServerFnError>>;

/// The register's resource, made by the page itself (not inside another
/// Suspense), so the server's data hydrates in place.
pub fn lines(
    tenant: Signal<String>,
    record: ServerAction<RecordBreach>,
    notify: ServerAction<NotifyBreach>,
) -> BreachLines {
    Resource::new(
        move || (tenant.get(), record.version().get(), notify.version().get()),
        |(t, _, _)| breach_register(t),
    )
}

#[component]
pub fn BreachRegister(
    tenant: Signal<String>,
    lines: BreachLines,
    record: ServerAction<RecordBreach>,
    notify: ServerAction<NotifyBreach>,
) -> impl IntoView {
    view! {
        <section class="card" id="breaches">
            <h2>"Breach register"</h2>
            <p class="muted">"Every personal-data breach is recorded, notified or not (GDPR Art. 33(5)). \
                The supervisory authority is notified within 72 hours of detection."</p>
            {move || outcome(record.value().get(), |id| format!("Breach {id} recorded."))}
            {move || outcome(notify.value().get(), |id| format!("Notification of {id} recorded."))}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match lines.await {
                        Ok(lines) => {
                            let rows = lines.into_iter().map(|l| breach_row(l, notify)).collect();
                            view! { <DataTable columns=COLUMNS.to_vec() rows testid="breaches"
                                empty="No breaches recorded."/> }.into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <RecordForm tenant record/>
        </section>
    }
}

const COLUMNS: [Column; 6] = [
    Column::plain("Breach"),
    Column::plain("Detected"),
    Column::plain("Nature"),
    Column::plain("Data"),
    Column::plain("Deadline"),
    Column::plain(""),
];

fn breach_row(l: BreachLine, notify: ServerAction<NotifyBreach>) -> AnyView {
    let b = l.breach;
    let id = b.id.clone();
    let notify_form = b.notified_at.is_none().then(move || {
        view! {
            <ActionForm action=notify attr:class="inline">
                <input type="hidden" name="id" value=id/>
                <input type="text" name="reference" placeholder="authority reference" maxlength="200"/>
                <button type="submit">"Authority notified"</button>
            </ActionForm>
        }
    });
    let data = format!(
        "{} (~{} people, ~{} records)",
        b.facts.categories.join(", "),
        b.facts.subjects_approx,
        b.facts.records_approx
    );
    view! {
        <tr class:warning=l.overdue>
            <td><code>{b.id.clone()}</code></td>
            <td>{rfc3339(b.facts.detected_at)}</td>
            <td>{b.facts.nature.clone()}</td>
            <td>{data}</td>
            <td data-testid="breach-deadline">{l.countdown}</td>
            <td>{notify_form}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn RecordForm(tenant: Signal<String>, record: ServerAction<RecordBreach>) -> impl IntoView {
    view! {
        <h3>"Record a breach"</h3>
        <ActionForm action=record attr:class="stacked" attr:data-testid="record-breach">
            <input type="hidden" name="tenant_id" value=move || tenant.get()/>
            <label>"Detected at (date or time; empty for now) "
                <input type="text" name="detected_at" placeholder="2026-12-05T08:00:00Z"/></label>
            <label>"Nature " <input type="text" name="nature" required maxlength="4000"/></label>
            <label>"Categories of data (comma separated) "
                <input type="text" name="categories" required placeholder="EMAIL_ADDRESS, usage records"/></label>
            <label>"People concerned (approx.) " <input type="number" name="subjects" min="0" value="0"/></label>
            <label>"Records concerned (approx.) " <input type="number" name="records" min="0" value="0"/></label>
            <label>"Likely consequences " <input type="text" name="consequences" required maxlength="4000"/></label>
            <label>"Measures taken " <input type="text" name="measures" required maxlength="4000"/></label>
            <label>"DPO " <input type="text" name="dpo" required maxlength="4000"/></label>
            <button type="submit">"Record breach"</button>
        </ActionForm>
    }
}

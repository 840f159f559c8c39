//! Access reviews on the Compliance page: start one, and attest each user
//! and key still waiting as kept or revoked. Plain forms.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::app::api::compliance::{access_reviews_view, AttestAccess, StartAccessReview};
use crate::app::components::flash::{outcome, ErrorBox};
use crate::domain::access_review::{AccessReview, ReviewItem};
use crate::domain::time::format_millis;

pub type Reviews = Resource<Result<Vec<AccessReview>, ServerFnError>>;

/// The reviews' resource, made by the page itself (see `breaches::lines`).
pub fn reviews(
    tenant: Signal<String>,
    start: ServerAction<StartAccessReview>,
    attest: ServerAction<AttestAccess>,
) -> Reviews {
    Resource::new(
        move || (tenant.get(), start.version().get(), attest.version().get()),
        |(t, _, _)| access_reviews_view(t),
    )
}

#[component]
pub fn AccessReviews(
    tenant: Signal<String>,
    reviews: Reviews,
    start: ServerAction<StartAccessReview>,
    attest: ServerAction<AttestAccess>,
) -> impl IntoView {
    view! {
        <section class="card" id="access-reviews">
            <h2>"Access reviews"</h2>
            <p class="muted">"Attest each user and API key as still needed, or revoke it now. \
                The attestations are SOC 2 evidence (CC6.2, CC6.3)."</p>
            {move || outcome(start.value().get(), |id| format!("Review {id} started."))}
            {move || outcome(attest.value().get(), |note| note.clone())}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match reviews.await {
                        Ok(list) => list.into_iter().take(5).map(|r| review(r, attest)).collect_view().into_any(),
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=start>
                <input type="hidden" name="tenant_id" value=move || tenant.get()/>
                <button type="submit">"Start an access review"</button>
            </ActionForm>
        </section>
    }
}

fn review(r: AccessReview, attest: ServerAction<AttestAccess>) -> impl IntoView {
    let state = match r.closed_at {
        Some(at) => format!("complete {}", format_millis(at)),
        None => format!("{} waiting", r.waiting()),
    };
    let id = r.id.clone();
    let items = r
        .items
        .into_iter()
        .map(|i| item(&id, i, attest))
        .collect_view();
    view! {
        <h3>{format!("Review of {} — {state}", format_millis(r.started_at))}</h3>
        <ul class="review-items" data-testid="review-items">{items}</ul>
    }
}

fn item(review_id: &str, i: ReviewItem, attest: ServerAction<AttestAccess>) -> impl IntoView {
    let decided = i.decision.map(|d| format!(" — {}", d.as_str()));
    let (kind, sid, rid) = (i.kind.as_str(), i.id.clone(), review_id.to_string());
    let form = move |d: &'static str, label: &'static str| {
        let (sid, rid) = (sid.clone(), rid.clone());
        view! {
            <ActionForm action=attest attr:class="inline">
                <input type="hidden" name="review_id" value=rid/>
                <input type="hidden" name="kind" value=kind/>
                <input type="hidden" name="id" value=sid/>
                <input type="hidden" name="decision" value=d/>
                <button type="submit" class:warn=d == "revoke">{label}</button>
            </ActionForm>
        }
    };
    let forms = i
        .decision
        .is_none()
        .then(|| (form("keep", "Still needed"), form("revoke", "Revoke")));
    view! { <li><span class="muted">{kind}</span> " " {i.label.clone()} {decided} {forms}</li> }
}

//! The signed-in user's own page (`/account`): multi-factor sign-in.
//! Enrolment is two plain forms: start (the key is shown), then confirm
//! with a first code (the recovery codes are shown once).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::api::account::{account_view, AccountOverview, ConfirmMfa, StartMfa};
use crate::app::components::flash::{outcome, ErrorBox};

#[component]
pub fn AccountPage() -> impl IntoView {
    let start = ServerAction::<StartMfa>::new();
    let confirm = ServerAction::<ConfirmMfa>::new();
    let data = Resource::new(
        move || (start.version().get(), confirm.version().get()),
        |_| account_view(),
    );
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        {move || outcome(start.value().get(), |uri| format!("Add this key to your authenticator: {uri}"))}
        {move || outcome(confirm.value().get(), |codes| format!("MFA is on. Recovery codes (shown once): {}", codes.join(" ")))}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <Mfa v start confirm/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Mfa(
    v: AccountOverview,
    start: ServerAction<StartMfa>,
    confirm: ServerAction<ConfirmMfa>,
) -> impl IntoView {
    let required = (!v.required_roles.is_empty())
        .then(|| format!("Required for: {}.", v.required_roles.join(", ")));
    let body = if v.mfa_on {
        view! { <p data-testid="mfa-on">"Multi-factor sign-in is on. If you lose your device, an admin resets it."</p> }.into_any()
    } else {
        let pending = v.pending_secret.map(|s| view! {
            <p>"Key: " <code class="secret" data-testid="mfa-secret">{s}</code></p>
            <ActionForm action=confirm attr:class="stacked">
                <label>"Code from your authenticator "
                    <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="8"/></label>
                <button type="submit">"Confirm and turn on"</button>
            </ActionForm>
        });
        view! {
            <p>"Multi-factor sign-in is off."</p>
            <ActionForm action=start>
                <button type="submit">"Set up an authenticator app"</button>
            </ActionForm>
            {pending}
        }
        .into_any()
    };
    view! {
        <section class="card" id="mfa">
            <h2>"Multi-factor sign-in"</h2>
            <p class="muted">{format!("Signed in as {}. ", v.email)}{required}</p>
            {body}
        </section>
    }
}

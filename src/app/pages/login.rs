use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A plain form post: it signs in with or without wasm, and the full page
/// load that follows starts the app with the new session.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.read().get("error").map(|e| match e.as_str() {
            "throttled" => {
                "Too many failed sign-ins. Wait a while and try again: each further failure doubles the wait."
            }
            "busy" => "The server is busy checking sign-ins. Try again in a few seconds.",
            "mfa" => {
                "A one-time code is needed: enter the code from your authenticator (or a recovery code). \
                 If your role requires MFA and you have not enrolled, ask an admin."
            }
            _ => "Wrong email or password.",
        })
    };
    view! {
        <Title text="Sign in"/>
        <main class="login">
            <form class="card login-card" method="post" action="/auth/sign-in">
                <h1>"Atrium"</h1>
                <p class="muted">"Sign in to the admin portal"</p>
                {move || error().map(|e| view! { <div class="flash error" role="alert">{e}</div> })}
                <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <label>
                    "One-time code (if you use MFA)"
                    <input type="text" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="20"/>
                </label>
                <button type="submit" class="primary">"Sign in"</button>
            </form>
        </main>
    }
}

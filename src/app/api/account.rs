//! The signed-in user's own account: MFA enrolment.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, flash};

/// What the account page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountOverview {
    pub email: String,
    pub mfa_on: bool,
    /// An enrolment started and not yet confirmed: the secret to type in.
    pub pending_secret: Option<String>,
    pub required_roles: Vec<String>,
}

#[server(endpoint = "account_view")]
pub async fn account_view() -> Result<AccountOverview, ServerFnError> {
    use crate::server::services::mfa;
    let (svc, actor) = actor().await?;
    let status = mfa::status(&svc, &actor).await.map_err(fail)?;
    let required = mfa::required_roles(&svc).await.map_err(fail)?;
    Ok(AccountOverview {
        email: actor.label.clone(),
        mfa_on: status.on,
        pending_secret: status.pending_secret,
        required_roles: required.iter().map(|r| r.as_str().to_string()).collect(),
    })
}

/// Starts enrolment: the secret and its `otpauth://` address, shown on the page.
#[server(endpoint = "start_mfa")]
pub async fn start_mfa() -> Result<String, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::server::services::mfa;
    let (svc, actor) = actor().await?;
    let e = mfa::start(&svc, &actor).await.map_err(fail)?;
    flash(
        &svc,
        Flash::success("Add this key to your authenticator, then confirm with a code.")
            .with_secret(e.uri.clone()),
    );
    Ok(e.uri)
}

/// Confirms with a first code; the recovery codes are shown once.
#[server(endpoint = "confirm_mfa")]
pub async fn confirm_mfa(code: String) -> Result<Vec<String>, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::server::services::mfa;
    let (svc, actor) = actor().await?;
    let codes = mfa::confirm(&svc, &actor, &code).await.map_err(fail)?;
    flash(
        &svc,
        Flash::success("MFA is on. Keep these recovery codes: they are shown once.")
            .with_secret(codes.join(" ")),
    );
    Ok(codes)
}

//! The Compliance page: thin adapters over `services::compliance`.
// A breach record is a form of nine fields, one argument each.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::compliance::ReportSummary;
use crate::domain::request_log::LogSettings;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, flash, invalid, parse_tenant};

/// The tenant a form or view names; empty means the actor's own tenant
/// for tenant users, the platform for platform admins.
#[cfg(feature = "ssr")]
fn picked(
    actor: &crate::server::services::Actor,
    raw: &str,
) -> Result<Option<crate::domain::tenant::TenantId>, ServerFnError> {
    match (raw.trim(), actor.scope().map_err(fail)?) {
        ("", Some(own)) => Ok(Some(own.clone())),
        ("", None) => Ok(None),
        (t, _) => Ok(Some(parse_tenant(t)?)),
    }
}

/// What the page shows for one tenant, or for the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceOverview {
    /// `(id, name)` of the tenant shown; none for the platform.
    pub tenant: Option<(String, String)>,
    /// Tenants a platform admin can pick.
    pub tenants: Vec<(String, String)>,
    pub request_log: LogSettings,
    pub controller: Option<String>,
    pub dpo: Option<String>,
    pub reports: Vec<ReportSummary>,
}

/// A tenant user sees their own tenant; a platform admin the one picked,
/// or the platform.
#[server(endpoint = "compliance_view")]
pub async fn compliance_view(
    #[server(default)] tenant: String,
) -> Result<ComplianceOverview, ServerFnError> {
    use crate::server::services::compliance::report;
    use crate::server::services::tenants;
    let (svc, actor) = actor().await?;
    let picked = picked(&actor, &tenant)?;
    report::require(&actor, picked.as_ref()).map_err(fail)?;
    let tenants = match actor.is_platform_admin() {
        true => tenants::names(&svc, &actor).await.map_err(fail)?,
        false => Vec::new(),
    };
    let t = match &picked {
        Some(id) => Some(tenants::get(&svc, &actor, id).await.map_err(fail)?),
        None => None,
    };
    let reports = report::list(&svc, &actor, picked.as_ref())
        .await
        .map_err(fail)?;
    Ok(ComplianceOverview {
        tenant: t.as_ref().map(|t| (t.id.to_string(), t.name.clone())),
        tenants,
        request_log: t.as_ref().map(|t| t.request_log).unwrap_or_default(),
        controller: t.as_ref().and_then(|t| t.controller_contact.clone()),
        dpo: t.as_ref().and_then(|t| t.dpo_contact.clone()),
        reports,
    })
}

#[server(endpoint = "set_request_log")]
pub async fn set_request_log(
    tenant_id: String,
    mode: String,
    #[server(default)] retention_days: String,
) -> Result<LogSettings, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::domain::validation::optional_whole_number;
    use crate::server::services::compliance::request_log;
    let (svc, actor) = actor().await?;
    let days = optional_whole_number("retention_days", &retention_days).map_err(invalid)?;
    let settings = LogSettings::new(mode.parse().map_err(invalid)?, days).map_err(invalid)?;
    let t = request_log::set(&svc, &actor, &parse_tenant(&tenant_id)?, settings)
        .await
        .map_err(fail)?;
    flash(
        &svc,
        Flash::success(format!("Request log: {}.", t.request_log.mode.label())),
    );
    Ok(t.request_log)
}

#[server(endpoint = "set_compliance_contacts")]
pub async fn set_compliance_contacts(
    tenant_id: String,
    #[server(default)] controller: String,
    #[server(default)] dpo: String,
) -> Result<(), ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::server::services::compliance::request_log;
    let (svc, actor) = actor().await?;
    let id = parse_tenant(&tenant_id)?;
    request_log::set_contacts(&svc, &actor, &id, Some(&controller), Some(&dpo))
        .await
        .map_err(fail)?;
    flash(&svc, Flash::success("Contacts saved.".to_string()));
    Ok(())
}

/// Generates a report; empty `tenant_id` is the platform.
#[server(endpoint = "generate_report")]
pub async fn generate_report(
    #[server(default)] tenant_id: String,
    kind: String,
    from: String,
    to: String,
    #[server(default)] subject: String,
) -> Result<String, ServerFnError> {
    use crate::domain::compliance::Period;
    use crate::domain::flash::Flash;
    use crate::server::services::compliance;
    let (svc, actor) = actor().await?;
    let tenant = match tenant_id.trim() {
        "" => None,
        t => Some(parse_tenant(t)?),
    };
    let req = compliance::Request {
        kind: kind.parse().map_err(invalid)?,
        tenant: tenant.as_ref(),
        period: Period::days(&from, &to).map_err(invalid)?,
        subject: Some(subject.trim()).filter(|s| !s.is_empty()),
    };
    let doc = compliance::generate(&svc, &actor, req)
        .await
        .map_err(fail)?;
    let id = doc["id"].as_str().unwrap_or_default().to_string();
    flash(
        &svc,
        Flash::success(format!("Report {id} generated: it heads the list below.")),
    );
    Ok(id)
}

/// The breach register as the actor may see it, with each deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreachLine {
    pub breach: crate::domain::breach::Breach,
    pub countdown: String,
    pub overdue: bool,
}

#[server(endpoint = "breach_register")]
pub async fn breach_register(
    #[server(default)] tenant: String,
) -> Result<Vec<BreachLine>, ServerFnError> {
    use crate::domain::breach::DeadlineState;
    use crate::domain::time::now_millis;
    use crate::server::services::compliance::breaches;
    let (svc, actor) = actor().await?;
    let tenant = picked(&actor, &tenant)?;
    let now = now_millis();
    Ok(breaches::list(&svc, &actor, tenant.as_ref())
        .await
        .map_err(fail)?
        .into_iter()
        .map(|b| BreachLine {
            countdown: b.countdown(now),
            overdue: matches!(b.state(now), DeadlineState::Overdue(_)),
            breach: b,
        })
        .collect())
}

/// Records a breach; `detected_at` is a date or an RFC 3339 time, empty for now.
#[server(endpoint = "record_breach")]
pub async fn record_breach(
    #[server(default)] tenant_id: String,
    #[server(default)] detected_at: String,
    nature: String,
    categories: String,
    subjects: String,
    records: String,
    consequences: String,
    measures: String,
    dpo: String,
) -> Result<String, ServerFnError> {
    use crate::domain::breach::NewBreach;
    use crate::domain::flash::Flash;
    use crate::domain::time::{now_millis, parse_day_or_time};
    use crate::domain::validation::{optional_whole_number, Invalid};
    use crate::server::services::compliance::breaches;
    let (svc, actor) = actor().await?;
    let now = now_millis();
    let at = match detected_at.trim() {
        "" => now,
        s => parse_day_or_time(s)
            .ok_or_else(|| invalid(Invalid::new("detected_at", "must be a date or a time")))?,
    };
    let count = |f: &'static str, v: &str| {
        optional_whole_number(f, v)
            .map(|n| n.unwrap_or(0))
            .map_err(invalid)
    };
    let new = NewBreach::new(
        at,
        &nature,
        &categories,
        (count("subjects", &subjects)?, count("records", &records)?),
        &consequences,
        &measures,
        &dpo,
        now,
    )
    .map_err(invalid)?;
    let tenant = picked(&actor, &tenant_id)?;
    let b = breaches::record(&svc, &actor, tenant.as_ref(), new)
        .await
        .map_err(fail)?;
    flash(
        &svc,
        Flash::success(format!("Breach {} recorded: {}.", b.id, b.countdown(now))),
    );
    Ok(b.id)
}

/// Records the notification to the supervisory authority, now.
#[server(endpoint = "notify_breach")]
pub async fn notify_breach(
    id: String,
    #[server(default)] reference: String,
) -> Result<String, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::domain::time::now_millis;
    use crate::server::services::compliance::breaches::{self, Step};
    let (svc, actor) = actor().await?;
    let reference = Some(reference.trim()).filter(|r| !r.is_empty());
    let step = Step::Notified {
        at: now_millis(),
        reference,
    };
    let b = breaches::step(&svc, &actor, &id, step)
        .await
        .map_err(fail)?;
    flash(
        &svc,
        Flash::success(format!("Breach {}: {}.", b.id, b.countdown(now_millis()))),
    );
    Ok(b.id)
}

/// The tenant's access reviews (the platform's with an empty tenant).
#[server(endpoint = "access_reviews_view")]
pub async fn access_reviews_view(
    #[server(default)] tenant: String,
) -> Result<Vec<crate::domain::access_review::AccessReview>, ServerFnError> {
    use crate::server::services::access_reviews;
    let (svc, actor) = actor().await?;
    let tenant = picked(&actor, &tenant)?;
    access_reviews::list(&svc, &actor, tenant.as_ref())
        .await
        .map_err(fail)
}

#[server(endpoint = "start_access_review")]
pub async fn start_access_review(
    #[server(default)] tenant_id: String,
) -> Result<String, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::server::services::access_reviews;
    let (svc, actor) = actor().await?;
    let tenant = picked(&actor, &tenant_id)?;
    let r = access_reviews::start(&svc, &actor, tenant.as_ref())
        .await
        .map_err(fail)?;
    flash(
        &svc,
        Flash::success(format!(
            "Access review started: {} to attest.",
            r.items.len()
        )),
    );
    Ok(r.id)
}

#[server(endpoint = "attest_access")]
pub async fn attest_access(
    review_id: String,
    kind: String,
    id: String,
    decision: String,
) -> Result<String, ServerFnError> {
    use crate::domain::flash::Flash;
    use crate::server::services::access_reviews;
    let (svc, actor) = actor().await?;
    let kind = kind.parse().map_err(invalid)?;
    let decision = decision.parse().map_err(invalid)?;
    let r = access_reviews::attest(&svc, &actor, &review_id, (kind, &id), decision)
        .await
        .map_err(fail)?;
    let note = match r.closed_at {
        Some(_) => "Attested. The review is complete.".to_string(),
        None => format!("Attested. {} left to attest.", r.waiting()),
    };
    flash(&svc, Flash::success(note.clone()));
    Ok(note)
}

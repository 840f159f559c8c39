//! LiteLLM's key-management calls as compositions of Atrium's own
//! services, so scripts written against LiteLLM keep working after the base
//! URL changes. A team is a tenant; a virtual key an API key; `max_budget`
//! a hard budget on the key (or tenant). Every check and audit event is
//! the underlying service's.

use crate::domain::api_key::{self, ApiKey, CreatedKey};
use crate::domain::budget::{Budget, BudgetSpec, Enforcement, Period};
use crate::domain::litellm::{self, KeyDelete, KeyGenerate, SpendLog, TeamNew};
use crate::domain::pricing::Micros;
use crate::domain::tenant::{NewTenant, Tenant, TenantId};
use crate::domain::time::{now_millis, rfc3339};
use crate::domain::validation::Invalid;

use super::{api_keys, budgets, tenants, usage, Actor, Result, ServiceError, Services};

/// The tenant a call means: the named team, or the caller's own tenant.
async fn team(svc: &Services, actor: &Actor, team_id: Option<&str>) -> Result<Tenant> {
    match (
        team_id.map(str::trim).filter(|t| !t.is_empty()),
        &actor.tenant_id,
    ) {
        (Some(t), _) => tenants::find(svc, actor, t).await,
        (None, Some(own)) => tenants::get(svc, actor, own).await,
        (None, None) => Err(Invalid::new(
            "team_id",
            "is required: every Atrium key belongs to a tenant (team)",
        )
        .into()),
    }
}

fn hard_budget(
    tenant: &TenantId,
    key: Option<&str>,
    dollars: f64,
    every: Option<&str>,
) -> Result<BudgetSpec> {
    Ok(BudgetSpec {
        tenant: tenant.to_string(),
        api_key: key.map(str::to_string),
        limit_micros: litellm::budget_micros(dollars)?,
        period: litellm::budget_period(every)?,
        enforcement: Enforcement::Hard,
        webhook_url: None,
    })
}

/// `/key/generate`: a key in the team's tenant, expiring after `duration`,
/// with `max_budget` as its hard budget. If the budget is refused the key
/// is revoked again, so no key exists without the budget asked for.
pub async fn generate_key(
    svc: &Services,
    actor: &Actor,
    req: &KeyGenerate,
) -> Result<(CreatedKey, Option<Budget>)> {
    let tenant = team(svc, actor, req.team_id.as_deref()).await?;
    let expires_at = litellm::duration(req.duration.as_deref())?.map(|d| now_millis() + d);
    let name = req
        .key_alias
        .as_deref()
        .or(req.key_name.as_deref())
        .unwrap_or("");
    let spec = match req.max_budget {
        Some(d) => Some(hard_budget(
            &tenant.id,
            None,
            d,
            req.budget_duration.as_deref(),
        )?),
        None => None,
    };
    let created = api_keys::create_until(svc, actor, &tenant.id, name, expires_at).await?;
    let Some(mut spec) = spec else {
        return Ok((created, None));
    };
    spec.api_key = Some(created.api_key.id.clone());
    match budgets::set(svc, actor, spec).await {
        Ok(set) => Ok((created, Some(set.budget))),
        Err(e) => {
            api_keys::revoke(svc, actor, &created.api_key.id).await?;
            Err(e)
        }
    }
}

/// The key a caller names: a whole key (`atr_…`), or a key's id.
fn key_id(named: &str) -> &str {
    let named = named.trim();
    api_key::parse(named).map(|(id, _)| id).unwrap_or(named)
}

/// `/key/delete`: revokes each named key (by key or id) and each key with
/// one of the aliases in the caller's reach. An alias several tenants use
/// is refused for platform callers, rather than revoking all of them.
pub async fn delete_keys(svc: &Services, actor: &Actor, req: &KeyDelete) -> Result<Vec<String>> {
    req.check()?;
    // Every name is resolved before anything is revoked: one unknown key
    // refuses the whole request instead of leaving it half done.
    let mut ids = Vec::new();
    for k in &req.keys {
        ids.push(api_keys::get(svc, actor, key_id(k)).await?.id);
    }
    for alias in &req.key_aliases {
        let named = api_keys::ids_named(svc, actor, alias).await?;
        match named.len() {
            0 => return Err(ServiceError::NotFound("api key")),
            1 => {}
            n if actor.tenant_id.is_none() => {
                return Err(ServiceError::Conflict(format!(
                    "{n} keys are called {alias:?}; delete them by key"
                )))
            }
            _ => {}
        }
        ids.extend(named);
    }
    for id in &ids {
        api_keys::revoke(svc, actor, id).await?;
    }
    Ok(req.keys.iter().chain(&req.key_aliases).cloned().collect())
}

/// What `/key/info` tells about a key.
pub struct KeyInfo {
    pub key: ApiKey,
    /// The key's own hard budget, if it has one.
    pub budget: Option<Budget>,
    /// Spent in the budget's current period, or this calendar month.
    pub spent_micros: Micros,
}

pub async fn key_info(svc: &Services, actor: &Actor, named: &str) -> Result<KeyInfo> {
    let key = api_keys::get(svc, actor, key_id(named)).await?;
    let budget = budgets::list(svc, actor, &key.tenant_id)
        .await?
        .into_iter()
        .find(|b| {
            b.api_key_id.as_deref() == Some(key.id.as_str()) && b.enforcement == Enforcement::Hard
        });
    let period = budget.as_ref().map(|b| b.period).unwrap_or(Period::Month);
    let days = period.days(now_millis());
    let spent_micros = budgets::status::spent_in(svc, &key.tenant_id, Some(&key.id), days).await?;
    Ok(KeyInfo {
        key,
        budget,
        spent_micros,
    })
}

/// `/team/new`: a tenant with the team's limits, and `max_budget` as its
/// hard budget.
pub async fn new_team(
    svc: &Services,
    actor: &Actor,
    req: &TeamNew,
) -> Result<(Tenant, Option<Budget>)> {
    let new = NewTenant {
        name: req.team_alias.clone().unwrap_or_default(),
        isolation: None,
        data_location: None,
        rpm_limit: req.rpm_limit,
        tpm_limit: req.tpm_limit,
    };
    actor.require_platform_admin()?;
    let period = litellm::budget_period(req.budget_duration.as_deref())?;
    let micros = req.max_budget.map(litellm::budget_micros).transpose()?;
    let tenant = tenants::create_from(svc, actor, &new).await?;
    let Some(limit_micros) = micros else {
        return Ok((tenant, None));
    };
    let spec = BudgetSpec {
        tenant: tenant.id.to_string(),
        api_key: None,
        limit_micros,
        period,
        enforcement: Enforcement::Hard,
        webhook_url: None,
    };
    let set = budgets::set(svc, actor, spec).await?;
    Ok((tenant, Some(set.budget)))
}

/// `/spend/logs`: the newest requests of a key, or of a team, in a period.
pub async fn spend_logs(
    svc: &Services,
    actor: &Actor,
    api_key: Option<&str>,
    team_id: Option<&str>,
    period: (i64, i64),
) -> Result<Vec<SpendLog>> {
    let (tenant_id, key) = match api_key {
        Some(k) => {
            let key = api_keys::get(svc, actor, key_id(k)).await?;
            (key.tenant_id, Some(key.id))
        }
        None => (team(svc, actor, team_id).await?.id, None),
    };
    let events = usage::events(svc, actor, &tenant_id, key.as_deref(), period).await?;
    Ok(events
        .into_iter()
        .map(|e| SpendLog {
            call_type: if e.stream {
                "acompletion"
            } else {
                "completion"
            },
            api_key: e.api_key_id.clone(),
            team_id: e.tenant_id.to_string(),
            spend: e.cost_micros as f64 / 1_000_000.0,
            total_tokens: e.input_tokens.saturating_add(e.output_tokens),
            prompt_tokens: e.input_tokens,
            completion_tokens: e.output_tokens,
            startTime: rfc3339(e.created_at),
            endTime: rfc3339(e.created_at.saturating_add(e.latency_ms)),
            status: if e.status < 400 { "success" } else { "failure" },
            model: e.model,
            request_id: e.request_id,
        })
        .collect())
}

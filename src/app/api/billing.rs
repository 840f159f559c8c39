//! Plans and prices for the Billing page: thin adapters over
//! `services::plans` and `services::catalog::prices`.

// A server function takes one argument per form field, and the macro's
// generated client function does not carry an allow on the item.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::plan::Plan;
use crate::domain::price::{EvaluationPrices, PriceHistory, PriceVersion};
use crate::domain::pricing::Micros;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid};

/// Each model's price versions, by model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Billing {
    pub plans: Vec<Plan>,
    pub prices: Vec<(String, PriceHistory)>,
    pub evaluation_prices: EvaluationPrices,
    pub now: i64,
}

#[server(endpoint = "billing_overview")]
pub async fn billing_overview() -> Result<Billing, ServerFnError> {
    use crate::server::services::{catalog, plans};
    let (svc, actor) = actor().await?;
    let plans = plans::list(&svc, &actor).await.map_err(fail)?;
    let (_, models) = catalog::list(&svc, &actor).await.map_err(fail)?;
    let evaluation_prices = catalog::prices::evaluation_history(&svc, &actor)
        .await
        .map_err(fail)?;
    Ok(Billing {
        plans,
        prices: models.into_iter().map(|m| (m.name, m.prices)).collect(),
        evaluation_prices,
        now: crate::domain::time::now_millis(),
    })
}

/// Money fields in dollars; `markups`: one `MODEL=PERCENT` per line;
/// `budget_usd` empty for none, `budget_kind` `hard` or `soft`.
#[server(endpoint = "create_plan")]
pub async fn create_plan(
    name: String,
    base_fee: String,
    included_credit: String,
    #[server(default)] markups: String,
    #[server(default)] storage_gb_month: String,
    #[server(default)] custom_model_month: String,
    #[server(default)] budget_usd: String,
    #[server(default)] budget_kind: String,
) -> Result<Plan, ServerFnError> {
    use crate::domain::budget::Enforcement;
    use crate::domain::plan::PlanBudget;
    use crate::domain::pricing::{parse_usd, parse_usd_or_zero};
    use crate::server::services::plans::{self, NewPlan};
    let (svc, actor) = actor().await?;
    let monthly_budget = match budget_usd.trim() {
        "" => None,
        raw => Some(PlanBudget {
            limit_micros: parse_usd("budget", raw).map_err(invalid)?,
            enforcement: match budget_kind.trim() {
                "" => Enforcement::Hard,
                kind => kind.parse().map_err(invalid)?,
            },
        }),
    };
    let new = NewPlan {
        name,
        base_fee_micros: parse_usd_or_zero("base_fee", &base_fee).map_err(invalid)?,
        included_credit_micros: parse_usd_or_zero("included_credit", &included_credit)
            .map_err(invalid)?,
        markup_percent: markups
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(crate::domain::plan::parse_markup)
            .collect::<Result<_, _>>()
            .map_err(invalid)?,
        rpm: None,
        tpm: None,
        monthly_budget,
        storage_gb_month_micros: parse_usd_or_zero("storage_gb_month", &storage_gb_month)
            .map_err(invalid)?,
        custom_model_month_micros: parse_usd_or_zero("custom_model_month", &custom_model_month)
            .map_err(invalid)?,
    };
    plans::create(&svc, &actor, new).await.map_err(fail)
}

/// Stops a plan taking new subscribers (tenants on it keep it).
#[server(endpoint = "archive_plan")]
pub async fn archive_plan(name: String) -> Result<Plan, ServerFnError> {
    use crate::server::services::plans;
    let (svc, actor) = actor().await?;
    plans::archive(&svc, &actor, &name).await.map_err(fail)
}

/// A new price for a model from `effective_from` (RFC 3339; empty: now).
#[server(endpoint = "set_price")]
pub async fn set_price(
    model: String,
    input: String,
    output: String,
    #[server(default)] cache_read: String,
    #[server(default)] cache_write: String,
    #[server(default)] per_request: String,
    #[server(default)] per_server_tool_use: String,
    #[server(default)] effective_from: String,
) -> Result<PriceVersion, ServerFnError> {
    use crate::domain::pricing::{parse_usd, parse_usd_or_zero, Price};
    use crate::server::services::catalog::prices;
    let (svc, actor) = actor().await?;
    let optional = |field, raw: &str| parse_usd_or_zero(field, raw).map_err(invalid);
    let price = Price {
        input_per_mtok: parse_usd("input", &input).map_err(invalid)?,
        output_per_mtok: parse_usd("output", &output).map_err(invalid)?,
        cache_read_per_mtok: optional("cache_read", &cache_read)?,
        cache_write_per_mtok: optional("cache_write", &cache_write)?,
        per_request: optional("per_request", &per_request)?,
        per_server_tool_use: optional("per_server_tool_use", &per_server_tool_use)?,
    };
    prices::set(&svc, &actor, &model, price, from(&effective_from)?)
        .await
        .map_err(fail)
}

/// The price of one flag evaluation (dollars) from `effective_from`.
#[server(endpoint = "set_evaluation_price")]
pub async fn set_evaluation_price(
    usd: String,
    #[server(default)] effective_from: String,
) -> Result<PriceVersion<Micros>, ServerFnError> {
    use crate::domain::pricing::parse_usd;
    use crate::server::services::catalog::prices;
    let (svc, actor) = actor().await?;
    let micros = parse_usd("usd", &usd).map_err(invalid)?;
    prices::set_evaluation(&svc, &actor, micros, from(&effective_from)?)
        .await
        .map_err(fail)
}

/// An optional RFC 3339 moment from a form (empty: now).
#[cfg(feature = "ssr")]
fn from(raw: &str) -> Result<Option<i64>, ServerFnError> {
    use crate::domain::validation::Invalid;
    match raw.trim() {
        "" => Ok(None),
        raw => crate::domain::time::parse_rfc3339(raw)
            .map(Some)
            .ok_or_else(|| {
                invalid(Invalid::new(
                    "effective_from",
                    "RFC 3339, e.g. 2026-12-01T00:00:00Z",
                ))
            }),
    }
}

//! Plans and prices for the Billing page: thin adapters over
//! `services::plans` and `services::catalog::prices`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::plan::Plan;
use crate::domain::price::PriceHistory;

#[cfg(feature = "ssr")]
use super::ssr::{actor, fail, invalid};

/// Each model's price versions, by model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Billing {
    pub plans: Vec<Plan>,
    pub prices: Vec<(String, PriceHistory)>,
    pub now: i64,
}

#[server(endpoint = "billing_overview")]
pub async fn billing_overview() -> Result<Billing, ServerFnError> {
    use crate::server::services::{catalog, plans};
    let (svc, actor) = actor().await?;
    let plans = plans::list(&svc, &actor).await.map_err(fail)?;
    let (_, models) = catalog::list(&svc, &actor).await.map_err(fail)?;
    Ok(Billing {
        plans,
        prices: models.into_iter().map(|m| (m.name, m.prices)).collect(),
        now: crate::domain::time::now_millis(),
    })
}

/// Money fields in dollars; `markups`: one `MODEL=PERCENT` per line.
#[server(endpoint = "create_plan")]
pub async fn create_plan(
    name: String,
    base_fee: String,
    included_credit: String,
    markups: String,
) -> Result<Plan, ServerFnError> {
    use crate::domain::pricing::parse_usd_or_zero;
    use crate::server::services::plans::{self, NewPlan};
    let (svc, actor) = actor().await?;
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
        monthly_budget: None,
    };
    plans::create(&svc, &actor, new).await.map_err(fail)
}

/// A new price for a model from `effective_from` (RFC 3339; empty: now).
#[server(endpoint = "set_price")]
pub async fn set_price(
    model: String,
    input: String,
    output: String,
    effective_from: String,
) -> Result<crate::domain::price::PriceVersion, ServerFnError> {
    use crate::domain::pricing::{parse_usd, Price};
    use crate::domain::time::parse_rfc3339;
    use crate::domain::validation::Invalid;
    use crate::server::services::catalog::prices;
    let (svc, actor) = actor().await?;
    let price = Price {
        input_per_mtok: parse_usd("input", &input).map_err(invalid)?,
        output_per_mtok: parse_usd("output", &output).map_err(invalid)?,
        ..Price::default()
    };
    let from = match effective_from.trim() {
        "" => None,
        raw => Some(parse_rfc3339(raw).ok_or_else(|| {
            invalid(Invalid::new(
                "effective_from",
                "RFC 3339, e.g. 2026-12-01T00:00:00Z",
            ))
        })?),
    };
    prices::set(&svc, &actor, &model, price, from)
        .await
        .map_err(fail)
}

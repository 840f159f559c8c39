//! Plans: a monthly base fee, credit included, a markup or discount per
//! model, and default limits. A tenant is on one plan at a time; a change
//! mid-month prorates the base fee by day. All money is integer
//! micro-dollars, rounded half up once per line.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::budget::Enforcement;
use super::pricing::Micros;
use super::time::Millis;
use super::validation::Invalid;

/// The model key that sets a plan's markup for every other model.
pub const ANY_MODEL: &str = "*";

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub base_fee_micros: Micros,
    pub included_credit_micros: Micros,
    /// Percent added to a model's cost (negative: a discount), by model
    /// name; `*` for models not listed.
    pub markup_percent: BTreeMap<String, i32>,
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    /// The monthly budget each tenant on the plan gets, if any.
    #[serde(default)]
    pub monthly_budget: Option<PlanBudget>,
    /// Price of one GB of stored data for a month (sampled daily).
    #[serde(default)]
    pub storage_gb_month_micros: Micros,
    /// Price of one custom model deployed for a month (sampled daily).
    #[serde(default)]
    pub custom_model_month_micros: Micros,
    pub created_at: Millis,
    /// When it stopped taking new subscribers; tenants on it keep it.
    #[serde(default)]
    pub archived_at: Option<Millis>,
}

/// A plan as the platform admin describes it (portal, CLI and admin API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    pub name: String,
    #[serde(default)]
    pub base_fee_micros: Micros,
    #[serde(default)]
    pub included_credit_micros: Micros,
    /// Percent added to a model's cost by model name (`*`: the others).
    #[serde(default)]
    pub markup_percent: BTreeMap<String, i32>,
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    #[serde(default)]
    pub monthly_budget: Option<PlanBudget>,
    #[serde(default)]
    pub storage_gb_month_micros: Micros,
    #[serde(default)]
    pub custom_model_month_micros: Micros,
}

/// A plan's default budget: per calendar month, hard or soft.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBudget {
    pub limit_micros: Micros,
    pub enforcement: Enforcement,
}

impl Plan {
    /// Bounds: fees up to $1M a month, markups from -100% (free) to +1000%.
    pub fn check(&self) -> Result<(), Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(Invalid::new("name", "1 to 64 characters"));
        }
        let fee_ok = |m: Micros| (0..=1_000_000_000_000).contains(&m);
        if ![
            self.base_fee_micros,
            self.included_credit_micros,
            self.storage_gb_month_micros,
            self.custom_model_month_micros,
        ]
        .into_iter()
        .all(fee_ok)
        {
            return Err(Invalid::new("fee", "between $0 and $1,000,000"));
        }
        if self.markup_percent.len() > 256
            || self
                .markup_percent
                .values()
                .any(|p| !(-100..=1000).contains(p))
        {
            return Err(Invalid::new(
                "markup",
                "at most 256 models, each -100% to +1000%",
            ));
        }
        if self.rpm.is_some_and(|r| r <= 0) || self.tpm.is_some_and(|t| t <= 0) {
            return Err(Invalid::new("limits", "rpm and tpm are positive"));
        }
        if self
            .monthly_budget
            .is_some_and(|b| !(10_000..=1_000_000_000_000_000).contains(&b.limit_micros))
        {
            return Err(Invalid::new("budget", "between $0.01 and $1,000,000,000"));
        }
        Ok(())
    }

    /// The markup for `model`: its own, else the plan's `*`, else none.
    pub fn markup_for(&self, model: &str) -> i32 {
        self.markup_percent
            .get(model)
            .or_else(|| self.markup_percent.get(ANY_MODEL))
            .copied()
            .unwrap_or(0)
    }
}

/// `MODEL=PERCENT` (`*=10`, `gpt-4o=-5`, a trailing `%` allowed): one
/// markup as the CLI and the portal take it.
pub fn parse_markup(spec: &str) -> Result<(String, i32), Invalid> {
    let bad = || Invalid::new("markup", "write MODEL=PERCENT, e.g. gpt-4o=20 or *=-10");
    let (model, pct) = spec.split_once('=').ok_or_else(bad)?;
    let pct = pct
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| bad())?;
    Ok((model.trim().to_string(), pct))
}

/// `cost` with `percent` added (or taken off), rounded half up.
pub fn marked_up(cost: Micros, percent: i32) -> Micros {
    let scaled = i128::from(cost) * i128::from(100 + percent);
    i64::try_from((scaled + 50).div_euclid(100)).unwrap_or(i64::MAX)
}

/// The days of the month that `date` is in.
pub fn days_in_month(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt())
        .map_or(30, |last| last.day())
}

/// A month's base fee for `days` of its `days_in_month` days, rounded half
/// up. The day a plan changes is the new plan's: it counts once, for the
/// plan the tenant ends the day on.
pub fn prorate(monthly_fee: Micros, days: u32, days_in_month: u32) -> Micros {
    if days_in_month == 0 {
        return 0;
    }
    let days = days.min(days_in_month);
    let scaled = i128::from(monthly_fee) * i128::from(days);
    let d = i128::from(days_in_month);
    i64::try_from((scaled + d / 2) / d).unwrap_or(i64::MAX)
}

/// One plan's share of a month's base fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseFee {
    pub plan: String,
    pub days: u32,
    pub micros: Micros,
}

/// The base fee lines of the calendar month (UTC) that `month` is in, from
/// a tenant's subscriptions (start, plan), oldest first: each plan pays
/// for the days it was in force, the day of a change going to the plan
/// the day ends on. Plans in force for no day of the month get no line.
pub fn base_fees(subscriptions: &[(Millis, &Plan)], month: NaiveDate) -> Vec<BaseFee> {
    let total = days_in_month(month);
    // Day of the month (1-based) a subscription starts, clamped to the month.
    let start_day = |at: Millis| -> u32 {
        let Some(date) = chrono::DateTime::from_timestamp_millis(at).map(|t| t.date_naive()) else {
            return 1;
        };
        match (date.year(), date.month()).cmp(&(month.year(), month.month())) {
            std::cmp::Ordering::Less => 1,
            std::cmp::Ordering::Equal => date.day(),
            std::cmp::Ordering::Greater => total + 1,
        }
    };
    let mut lines = Vec::new();
    for (i, (at, plan)) in subscriptions.iter().enumerate() {
        let from = start_day(*at);
        let until = subscriptions
            .get(i + 1)
            .map_or(total + 1, |(next, _)| start_day(*next));
        let days = until.saturating_sub(from);
        if days > 0 {
            lines.push(BaseFee {
                plan: plan.name.clone(),
                days,
                micros: prorate(plan.base_fee_micros, days, total),
            });
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn months_have_their_days() {
        assert_eq!(days_in_month(day(2026, 11, 15)), 30);
        assert_eq!(days_in_month(day(2026, 12, 31)), 31);
        assert_eq!(days_in_month(day(2028, 2, 1)), 29);
        assert_eq!(days_in_month(day(2026, 2, 1)), 28);
    }

    #[test]
    fn proration_is_by_day_and_adds_up() {
        // $100 a month, November (30 days): a change on the 11th gives the
        // old plan 10 days and the new one 20.
        let fee = 100_000_000;
        assert_eq!(prorate(fee, 10, 30), 33_333_333);
        assert_eq!(prorate(fee, 20, 30), 66_666_667);
        assert_eq!(prorate(fee, 10, 30) + prorate(fee, 20, 30), fee);
        assert_eq!(prorate(fee, 30, 30), fee);
        assert_eq!(prorate(fee, 45, 30), fee, "never more than the month");
        assert_eq!(prorate(fee, 0, 30), 0);
        assert_eq!(prorate(1, 1, 2), 1, "half a micro-dollar rounds up");
    }

    #[test]
    fn markups_and_discounts_round_half_up() {
        assert_eq!(marked_up(1_000, 20), 1_200);
        assert_eq!(marked_up(1_000, -15), 850);
        assert_eq!(marked_up(5, 10), 6, "5.5 rounds up");
        assert_eq!(marked_up(5, -10), 5, "4.5 rounds up");
        assert_eq!(marked_up(123, -100), 0);
        let mut plan = Plan {
            id: "p".into(),
            name: "Team".into(),
            markup_percent: BTreeMap::from([("*".into(), 10), ("gpt-big".into(), -5)]),
            ..Plan::default()
        };
        assert_eq!(
            (plan.markup_for("gpt-big"), plan.markup_for("other")),
            (-5, 10)
        );
        plan.markup_percent.insert("x".into(), -101);
        assert!(plan.check().is_err());
    }

    fn plan(name: &str, fee: Micros) -> Plan {
        Plan {
            id: name.into(),
            name: name.into(),
            base_fee_micros: fee,
            included_credit_micros: 0,
            markup_percent: BTreeMap::new(),
            rpm: None,
            tpm: None,
            monthly_budget: None,
            storage_gb_month_micros: 0,
            custom_model_month_micros: 0,
            created_at: 0,
            archived_at: None,
        }
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> Millis {
        day(y, m, d)
            .and_hms_opt(h, 0, 0)
            .expect("time")
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn a_mid_month_change_splits_the_base_fee_by_day() {
        let (team, pro) = (plan("Team", 30_000_000), plan("Pro", 90_000_000));
        let subs = [(at(2026, 10, 5, 0), &team), (at(2026, 11, 11, 10), &pro)];
        let lines = base_fees(&subs, day(2026, 11, 1));
        assert_eq!(
            lines,
            vec![
                BaseFee {
                    plan: "Team".into(),
                    days: 10,
                    micros: 10_000_000
                },
                BaseFee {
                    plan: "Pro".into(),
                    days: 20,
                    micros: 60_000_000
                },
            ]
        );
        // October: Team from the 5th; December: Pro all month.
        assert_eq!(base_fees(&subs, day(2026, 10, 1))[0].days, 27);
        assert_eq!(
            base_fees(&subs, day(2026, 12, 1)),
            vec![BaseFee {
                plan: "Pro".into(),
                days: 31,
                micros: 90_000_000
            }]
        );
        // Two changes on one day: the plan the day ends on pays for it.
        let subs = [(at(2026, 11, 1, 0), &team), (at(2026, 11, 1, 9), &pro)];
        assert_eq!(
            base_fees(&subs, day(2026, 11, 1)),
            vec![BaseFee {
                plan: "Pro".into(),
                days: 30,
                micros: 90_000_000
            }]
        );
        assert!(base_fees(&[], day(2026, 11, 1)).is_empty());
    }
}

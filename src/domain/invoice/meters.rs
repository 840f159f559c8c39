//! Lines for what a tenant keeps rather than calls: the month's daily
//! samples of stored data and deployed custom models, each day priced by
//! the plan in force on it, per unit-month (a day is 1/days-in-month of a
//! month). One line per meter and plan, rounded half up once.

use std::collections::BTreeMap;

use super::{InvoiceLine, LineKind, Month};
use crate::domain::meter::{Meter, Sample, BYTES_PER_GB, DAY_MS, HOURS_PER_DAY};
use crate::domain::plan::{days_in_month, Plan};
use crate::domain::pricing::{format_money, Micros};
use crate::domain::time::Millis;

/// A meter's samples under one plan: their sum, how many days, the price.
#[derive(Default)]
struct Tally {
    sum: i128,
    days: i64,
    price: Micros,
}

pub(super) fn meter_lines(
    month: Month,
    subscriptions: &[(Millis, &Plan)],
    samples: &[Sample],
) -> Vec<InvoiceLine> {
    let (from, to) = month.window();
    let days = i128::from(days_in_month(month.first_day()));
    let mut by: BTreeMap<(Meter, String), Tally> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.day >= from && s.day < to) {
        // The day a plan changes is the new plan's, as for the base fee.
        let Some((_, plan)) = subscriptions
            .iter()
            .rev()
            .find(|(at, _)| *at < s.day + DAY_MS)
        else {
            continue;
        };
        let t = by.entry((s.meter, plan.name.clone())).or_default();
        t.sum += i128::from(s.value.max(0));
        t.days += 1;
        t.price = unit_month_price(plan, s.meter);
    }
    by.into_iter()
        .filter(|(_, t)| t.price > 0 && t.sum > 0)
        .map(|((meter, plan), t)| line(meter, &plan, &t, days))
        .collect()
}

fn unit_month_price(plan: &Plan, meter: Meter) -> Micros {
    match meter {
        Meter::StorageBytes => plan.storage_gb_month_micros,
        Meter::CustomModels => plan.custom_model_month_micros,
        // The samples are prices already: each day pays its share.
        Meter::HostingFees => 1,
    }
}

fn line(meter: Meter, plan: &str, t: &Tally, days: i128) -> InvoiceLine {
    // Custom models are sampled in hours served: a unit-month is 24 of
    // them a day.
    let per_unit = match meter {
        Meter::StorageBytes => i128::from(BYTES_PER_GB),
        Meter::CustomModels | Meter::HostingFees => i128::from(HOURS_PER_DAY),
    };
    let denominator = per_unit * days;
    let amount = (t.sum * i128::from(t.price) + denominator / 2) / denominator;
    // Unit-months to six decimals, in integers.
    let micro_months = t.sum * 1_000_000 / denominator;
    let months = format!(
        "{}.{:06}",
        micro_months / 1_000_000,
        micro_months % 1_000_000
    );
    let price = format_money(t.price);
    let (kind, description, quantity, unit) = match meter {
        Meter::StorageBytes => (
            LineKind::Storage,
            format!(
                "Data stored, plan {plan}: {months} GB-months from daily samples \
                 ({} of {days} days) at {price} per GB-month",
                t.days
            ),
            t.days,
            "days sampled",
        ),
        Meter::CustomModels => (
            LineKind::CustomModels,
            format!(
                "Custom models, plan {plan}: {} model-hours ({months} model-months) \
                 at {price} per model-month",
                t.sum
            ),
            i64::try_from(t.sum).unwrap_or(i64::MAX),
            "model-hours",
        ),
        Meter::HostingFees => (
            LineKind::HostingFees,
            format!(
                "Custom model hosting fees, plan {plan}: fees by the hour served over {} days \
                 ({months} fee-months)",
                t.days
            ),
            t.days,
            "days",
        ),
    };
    InvoiceLine {
        kind,
        description,
        quantity,
        unit_price_micros: None,
        unit: unit.into(),
        amount_micros: i64::try_from(amount).unwrap_or(i64::MAX),
    }
}

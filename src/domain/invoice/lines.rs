//! An invoice's lines from what the ledger says about the month: money is
//! integer micro-dollars, each line rounded half up once; the usage lines
//! plus the rounding line equal the ledger's cost for the month exactly.

use std::collections::BTreeMap;

use super::meters::meter_lines;
use super::{InvoiceLine, LineKind, Month};
use crate::domain::meter::Sample;
use crate::domain::plan::{base_fees, days_in_month, marked_up, prorate, Plan};
use crate::domain::pricing::{format_money, units_cost, Micros, Price};
use crate::domain::time::Millis;
use crate::domain::usage::UsageTotals;

/// One model's usage over a stretch of the month in which its price and
/// the tenant's plan did not change.
#[derive(Debug, Clone)]
pub struct Slice {
    pub model: String,
    /// The price version in force (`None`: the model left the catalog;
    /// its usage is billed as metered).
    pub price: Option<Price>,
    /// The plan in force and its markup for this model, in percent.
    pub markup: Option<(String, i32)>,
    /// What one flag evaluation cost over the stretch.
    pub evaluation_price: Micros,
    pub totals: UsageTotals,
}

/// Usage recorded for an issued month after it was issued.
#[derive(Debug, Clone)]
pub struct Late {
    pub month: Month,
    pub number: String,
    pub micros: Micros,
}

pub struct Inputs<'a> {
    pub month: Month,
    /// The tenant's subscriptions (start, plan), oldest first.
    pub subscriptions: &'a [(Millis, &'a Plan)],
    pub slices: Vec<Slice>,
    pub late: Vec<Late>,
    /// The month's daily meter samples (stored data, custom models).
    pub samples: &'a [Sample],
}

pub fn lines(inputs: &Inputs<'_>) -> Vec<InvoiceLine> {
    let mut out = base_fee_lines(inputs);
    let mut metered = usage_lines(&inputs.slices);
    metered.extend(request_lines(&inputs.slices));
    metered.extend(evaluation_lines(&inputs.slices));
    let ledger: Micros = inputs.slices.iter().map(|s| s.totals.cost_micros).sum();
    let priced: Micros = metered.iter().map(|l| l.amount_micros).sum();
    out.extend(metered);
    if ledger != priced {
        out.push(money_line(
            LineKind::Rounding,
            "Rounding: each request's cost is rounded once, as metered".into(),
            ledger - priced,
        ));
    }
    out.extend(markup_lines(&inputs.slices));
    out.extend(meter_lines(
        inputs.month,
        inputs.subscriptions,
        inputs.samples,
    ));
    for late in &inputs.late {
        out.push(money_line(
            LineKind::LateUsage,
            format!(
                "Usage for {} recorded after invoice {}",
                late.month, late.number
            ),
            late.micros,
        ));
    }
    let chargeable: Micros = out
        .iter()
        .filter(|l| l.kind != LineKind::BaseFee)
        .map(|l| l.amount_micros)
        .sum();
    let credit = credit(inputs).min(chargeable.max(0));
    if credit > 0 {
        out.push(money_line(
            LineKind::Credit,
            "Included credit applied".into(),
            -credit,
        ));
    }
    out
}

fn money_line(kind: LineKind, description: String, amount_micros: Micros) -> InvoiceLine {
    InvoiceLine {
        kind,
        description,
        quantity: 1,
        unit_price_micros: None,
        unit: String::new(),
        amount_micros,
    }
}

fn base_fee_lines(inputs: &Inputs<'_>) -> Vec<InvoiceLine> {
    let total = days_in_month(inputs.month.first_day());
    base_fees(inputs.subscriptions, inputs.month.first_day())
        .into_iter()
        .filter(|f| f.micros != 0)
        .map(|f| InvoiceLine {
            kind: LineKind::BaseFee,
            description: format!("Base fee, plan {} ({} of {total} days)", f.plan, f.days),
            quantity: i64::from(f.days),
            unit_price_micros: None,
            unit: "days".into(),
            amount_micros: f.micros,
        })
        .collect()
}

/// The plans' included credit, each for the days it was in force.
fn credit(inputs: &Inputs<'_>) -> Micros {
    let total = days_in_month(inputs.month.first_day());
    let fees = base_fees(inputs.subscriptions, inputs.month.first_day());
    fees.iter()
        .filter_map(|f| {
            let plan = inputs
                .subscriptions
                .iter()
                .find(|(_, p)| p.name == f.plan)?
                .1;
            Some(prorate(plan.included_credit_micros, f.days, total))
        })
        .sum()
}

/// Per model and price version, one line per kind of token used.
fn usage_lines(slices: &[Slice]) -> Vec<InvoiceLine> {
    let mut priced: BTreeMap<(String, [Micros; 4]), [i64; 4]> = BTreeMap::new();
    let mut unpriced: BTreeMap<String, (i64, Micros)> = BTreeMap::new();
    for s in slices {
        let t = &s.totals;
        let tokens = [
            t.input_tokens,
            t.output_tokens,
            t.cache_read_tokens,
            t.cache_write_tokens,
        ];
        match &s.price {
            Some(p) => {
                let key = (
                    s.model.clone(),
                    [
                        p.input_per_mtok,
                        p.output_per_mtok,
                        p.cache_read_per_mtok,
                        p.cache_write_per_mtok,
                    ],
                );
                let sum = priced.entry(key).or_default();
                for (acc, n) in sum.iter_mut().zip(tokens) {
                    *acc += n;
                }
            }
            None => {
                // Evaluations have lines of their own.
                let e = unpriced.entry(s.model.clone()).or_default();
                e.0 += tokens.iter().sum::<i64>();
                e.1 += t.cost_micros - units_cost(t.evaluations, s.evaluation_price);
            }
        }
    }
    let kinds = ["input", "output", "cache read", "cache write"];
    let mut out = Vec::new();
    for ((model, prices), tokens) in priced {
        for ((kind, price), n) in kinds.iter().zip(prices).zip(tokens) {
            if n == 0 {
                continue;
            }
            let amount = i64::try_from((i128::from(n) * i128::from(price) + 500_000) / 1_000_000)
                .unwrap_or(i64::MAX);
            out.push(InvoiceLine {
                kind: LineKind::Usage,
                description: format!(
                    "{model}: {kind} tokens at {} per million",
                    format_money(price)
                ),
                quantity: n,
                unit_price_micros: Some(price),
                unit: "tokens".into(),
                amount_micros: amount,
            });
        }
    }
    for (model, (n, cost)) in unpriced
        .into_iter()
        .filter(|(_, (n, c))| *n != 0 || *c != 0)
    {
        out.push(InvoiceLine {
            kind: LineKind::Usage,
            description: format!("{model}: tokens, as metered (no longer in the catalog)"),
            quantity: n,
            unit_price_micros: None,
            unit: "tokens".into(),
            amount_micros: cost,
        });
    }
    out
}

/// Completion requests: per model and per-request price where one is
/// set (answered requests pay it), and the rest counted in one line.
fn request_lines(slices: &[Slice]) -> Vec<InvoiceLine> {
    let mut priced: BTreeMap<(String, Micros), i64> = BTreeMap::new();
    let mut free = 0;
    for s in slices {
        match s.price.map(|p| p.per_request).filter(|p| *p > 0) {
            Some(p) => {
                *priced.entry((s.model.clone(), p)).or_default() +=
                    s.totals.requests - s.totals.errors;
                free += s.totals.errors;
            }
            None => free += s.totals.requests,
        }
    }
    let mut out: Vec<InvoiceLine> = priced
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((model, price), n)| {
            let description = format!("{model}: answered requests at {} each", format_money(price));
            unit_line(LineKind::Requests, description, n, price, "requests")
        })
        .collect();
    if free > 0 {
        let description = "Completion requests (no per-request charge)".to_string();
        out.push(unit_line(
            LineKind::Requests,
            description,
            free,
            0,
            "requests",
        ));
    }
    out
}

/// Flag evaluations (OFREP), one line per price in force over the month.
fn evaluation_lines(slices: &[Slice]) -> Vec<InvoiceLine> {
    let mut by_price: BTreeMap<Micros, i64> = BTreeMap::new();
    for s in slices.iter().filter(|s| s.totals.evaluations > 0) {
        *by_price.entry(s.evaluation_price).or_default() += s.totals.evaluations;
    }
    by_price
        .into_iter()
        .map(|(price, n)| {
            let description = if price > 0 {
                format!("Flag evaluations (OFREP) at {} each", format_money(price))
            } else {
                "Flag evaluations (OFREP)".to_string()
            };
            unit_line(LineKind::Evaluations, description, n, price, "evaluations")
        })
        .collect()
}

/// `quantity` units at `price` each.
fn unit_line(
    kind: LineKind,
    description: String,
    quantity: i64,
    price: Micros,
    unit: &str,
) -> InvoiceLine {
    InvoiceLine {
        kind,
        description,
        quantity,
        unit_price_micros: Some(price),
        unit: unit.into(),
        amount_micros: units_cost(quantity, price),
    }
}

/// Per model and plan, the plan's markup (or discount) on the model's
/// metered cost, rounded half up once per line.
fn markup_lines(slices: &[Slice]) -> Vec<InvoiceLine> {
    let mut by: BTreeMap<(String, String, i32), Micros> = BTreeMap::new();
    for s in slices {
        if let Some((plan, pct)) = &s.markup {
            // On the model's cost: its tokens and requests, not evaluations.
            let evaluations = units_cost(s.totals.evaluations, s.evaluation_price);
            if *pct != 0 {
                *by.entry((s.model.clone(), plan.clone(), *pct)).or_default() +=
                    s.totals.cost_micros - evaluations;
            }
        }
    }
    by.into_iter()
        .filter(|(_, cost)| *cost != 0)
        .map(|((model, plan, pct), cost)| {
            let what = if pct > 0 { "Markup" } else { "Discount" };
            money_line(
                LineKind::Markup,
                format!(
                    "{what} {pct:+}% on {model} ({} metered), plan {plan}",
                    format_money(cost)
                ),
                marked_up(cost, pct) - cost,
            )
        })
        .collect()
}

//! An invoice's lines from what the ledger says about the month: money is
//! integer micro-dollars, each line rounded half up once; the usage lines
//! plus the rounding line equal the ledger's cost for the month exactly.

use std::collections::BTreeMap;

use super::{InvoiceLine, LineKind, Month};
use crate::domain::plan::{base_fees, days_in_month, marked_up, prorate, Plan};
use crate::domain::pricing::{format_money, Micros, Price};
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
}

pub fn lines(inputs: &Inputs<'_>) -> Vec<InvoiceLine> {
    let mut out = base_fee_lines(inputs);
    let usage = usage_lines(&inputs.slices);
    let ledger: Micros = inputs.slices.iter().map(|s| s.totals.cost_micros).sum();
    let priced: Micros = usage.iter().map(|l| l.amount_micros).sum();
    out.extend(usage);
    if ledger != priced {
        out.push(money_line(
            LineKind::Rounding,
            "Rounding: each request's cost is rounded once, as metered".into(),
            ledger - priced,
        ));
    }
    out.extend(count_lines(&inputs.slices));
    out.extend(markup_lines(&inputs.slices));
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
                let e = unpriced.entry(s.model.clone()).or_default();
                e.0 += tokens.iter().sum::<i64>();
                e.1 += t.cost_micros;
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

/// Requests and flag evaluations: counted, not priced yet.
fn count_lines(slices: &[Slice]) -> Vec<InvoiceLine> {
    let requests: i64 = slices.iter().map(|s| s.totals.requests).sum();
    let evaluations: i64 = slices.iter().map(|s| s.totals.evaluations).sum();
    let line = |kind, description: &str, quantity, unit: &str| InvoiceLine {
        kind,
        description: description.into(),
        quantity,
        unit_price_micros: Some(0),
        unit: unit.into(),
        amount_micros: 0,
    };
    let mut out = Vec::new();
    if requests > 0 {
        out.push(line(
            LineKind::Requests,
            "Completion requests",
            requests,
            "requests",
        ));
    }
    if evaluations > 0 {
        out.push(line(
            LineKind::Evaluations,
            "Flag evaluations (OFREP)",
            evaluations,
            "evaluations",
        ));
    }
    out
}

/// Per model and plan, the plan's markup (or discount) on the model's
/// metered cost, rounded half up once per line.
fn markup_lines(slices: &[Slice]) -> Vec<InvoiceLine> {
    let mut by: BTreeMap<(String, String, i32), Micros> = BTreeMap::new();
    for s in slices {
        if let Some((plan, pct)) = &s.markup {
            if *pct != 0 {
                *by.entry((s.model.clone(), plan.clone(), *pct)).or_default() +=
                    s.totals.cost_micros;
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

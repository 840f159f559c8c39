use std::collections::BTreeMap;

use super::*;
use crate::domain::meter::{Meter, Sample, DAY_MS};
use crate::domain::plan::Plan;
use crate::domain::pricing::{request_cost, Price, TokenCounts};
use crate::domain::time::parse_rfc3339;
use crate::domain::usage::UsageTotals;

fn plan(name: &str, fee: i64, credit: i64, markups: &[(&str, i32)]) -> Plan {
    Plan {
        id: name.into(),
        name: name.into(),
        base_fee_micros: fee,
        included_credit_micros: credit,
        markup_percent: markups
            .iter()
            .map(|(m, p)| (m.to_string(), *p))
            .collect::<BTreeMap<_, _>>(),
        ..Plan::default()
    }
}

/// $3.10 per million input tokens: 7 cost 21.7 micro-dollars, so the
/// per-request rounding is visible.
const PRICE: Price = Price {
    input_per_mtok: 3_100_000,
    output_per_mtok: 15_000_000,
    cache_read_per_mtok: 300_000,
    cache_write_per_mtok: 0,
    per_request: 0,
    per_server_tool_use: 0,
};

/// A slice of `n` requests of 7 input and 3 output tokens each, costed as
/// the gateway does: rounded once per request.
fn slice(model: &str, n: i64, price: Price, markup: Option<(&str, i32)>) -> Slice {
    let one = TokenCounts {
        input: 7,
        output: 3,
        ..TokenCounts::default()
    };
    Slice {
        model: model.into(),
        price: Some(price),
        markup: markup.map(|(p, m)| (p.to_string(), m)),
        evaluation_price: 0,
        totals: UsageTotals {
            requests: n,
            input_tokens: 7 * n,
            output_tokens: 3 * n,
            cost_micros: request_cost(&price, &one, true) * n,
            ..UsageTotals::default()
        },
    }
}

/// A month's lines from daily meter samples alone (no usage slices).
fn metered(month: Month, subs: &[(i64, &Plan)], samples: &[Sample]) -> Vec<InvoiceLine> {
    lines(&Inputs {
        month,
        subscriptions: subs,
        slices: vec![],
        late: vec![],
        samples,
    })
}

fn amounts(lines: &[InvoiceLine]) -> Vec<(LineKind, i64, i64)> {
    lines
        .iter()
        .map(|l| (l.kind, l.quantity, l.amount_micros))
        .collect()
}

fn at(s: &str) -> i64 {
    parse_rfc3339(s).expect("time")
}

#[test]
fn usage_lines_add_up_to_the_ledger_to_the_micro_dollar() {
    let nov: Month = "2026-11".parse().expect("month");
    let dearer = Price {
        input_per_mtok: 4_000_000,
        ..PRICE
    };
    let slices = vec![slice("m", 1000, PRICE, None), slice("m", 333, dearer, None)];
    let ledger: i64 = slices.iter().map(|s| s.totals.cost_micros).sum();
    let inputs = Inputs {
        month: nov,
        subscriptions: &[],
        slices,
        late: vec![],
        samples: &[],
    };
    let lines = lines(&inputs);
    let usage: i64 = lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::Usage | LineKind::Rounding))
        .map(|l| l.amount_micros)
        .sum();
    assert_eq!(usage, ledger);
    // Two price versions: input and output lines for each.
    assert_eq!(
        lines.iter().filter(|l| l.kind == LineKind::Usage).count(),
        4
    );
    assert!(
        lines.iter().any(|l| l.kind == LineKind::Rounding),
        "per-request rounding shows"
    );
    assert!(lines
        .iter()
        .any(|l| l.kind == LineKind::Requests && l.quantity == 1333));
}

#[test]
fn a_mid_month_plan_change_prorates_fees_markups_and_credit() {
    let nov: Month = "2026-11".parse().expect("month");
    let starter = plan("Starter", 30_000_000, 0, &[("*", 10)]);
    let scale = plan("Scale", 120_000_000, 1_000, &[("m", -20)]);
    let subs = [
        (at("2026-10-01T00:00:00Z"), &starter),
        (at("2026-11-11T09:00:00Z"), &scale),
    ];
    let slices = vec![
        slice("m", 100, PRICE, Some(("Starter", 10))),
        slice("m", 100, PRICE, Some(("Scale", -20))),
    ];
    let metered = slices[0].totals.cost_micros;
    let lines = lines(&Inputs {
        month: nov,
        subscriptions: &subs,
        slices,
        late: vec![],
        samples: &[],
    });
    let fees: Vec<i64> = lines
        .iter()
        .filter(|l| l.kind == LineKind::BaseFee)
        .map(|l| l.amount_micros)
        .collect();
    assert_eq!(
        fees,
        vec![10_000_000, 80_000_000],
        "10 and 20 days of November"
    );
    let markups: Vec<i64> = lines
        .iter()
        .filter(|l| l.kind == LineKind::Markup)
        .map(|l| l.amount_micros)
        .collect();
    assert_eq!(markups.len(), 2);
    assert!(
        markups.contains(&(metered / 10)) && markups.contains(&(-metered / 5)),
        "{markups:?}"
    );
    // Scale's credit for its 20 days: 1,000 × 20/30, rounded.
    let credit: i64 = lines
        .iter()
        .filter(|l| l.kind == LineKind::Credit)
        .map(|l| l.amount_micros)
        .sum();
    assert_eq!(credit, -667);
}

#[test]
fn credit_never_exceeds_the_charges_and_late_usage_is_its_own_line() {
    let dec: Month = "2026-12".parse().expect("month");
    let generous = plan("Generous", 5_000_000, 1_000_000_000, &[]);
    let subs = [(at("2026-01-01T00:00:00Z"), &generous)];
    let late = vec![Late {
        month: dec.prev(),
        number: "ATR-2026-11-0007".into(),
        micros: 1_234,
    }];
    let slices = vec![slice("m", 10, PRICE, None)];
    let lines = lines(&Inputs {
        month: dec,
        subscriptions: &subs,
        slices,
        late,
        samples: &[],
    });
    let late_line = lines
        .iter()
        .find(|l| l.kind == LineKind::LateUsage)
        .expect("late line");
    assert_eq!(late_line.amount_micros, 1_234);
    assert!(late_line.description.contains("ATR-2026-11-0007"));
    let total: i64 = lines.iter().map(|l| l.amount_micros).sum();
    assert_eq!(
        total, 5_000_000,
        "credit covers the usage, never the base fee"
    );
}

#[test]
fn request_and_evaluation_charges_add_up_to_the_ledger() {
    let nov: Month = "2026-11".parse().expect("month");
    let per_request = Price {
        per_request: 2_500,
        ..PRICE
    };
    let mut answered = slice("m", 40, per_request, None);
    // Two refused requests: tokens never reached, no per-request charge.
    answered.totals.requests += 2;
    answered.totals.errors += 2;
    let mut flags = slice("-", 0, PRICE, None);
    flags.price = None;
    flags.evaluation_price = 30;
    flags.totals = UsageTotals {
        evaluations: 1_001,
        cost_micros: 30 * 1_001,
        ..UsageTotals::default()
    };
    let ledger = answered.totals.cost_micros + flags.totals.cost_micros;
    let lines = lines(&Inputs {
        month: nov,
        subscriptions: &[],
        slices: vec![answered, flags],
        late: vec![],
        samples: &[],
    });
    let of = |kind: LineKind| lines.iter().filter(move |l| l.kind == kind);
    let requests: Vec<_> = of(LineKind::Requests).collect();
    assert_eq!(requests[0].quantity, 40, "answered requests pay");
    assert_eq!(requests[0].amount_micros, 100_000);
    assert_eq!((requests[1].quantity, requests[1].amount_micros), (2, 0));
    let evals: Vec<_> = of(LineKind::Evaluations).collect();
    assert_eq!((evals[0].quantity, evals[0].amount_micros), (1_001, 30_030));
    let metered: i64 = lines
        .iter()
        .filter(|l| l.kind != LineKind::BaseFee && l.kind != LineKind::Credit)
        .map(|l| l.amount_micros)
        .sum();
    assert_eq!(metered, ledger, "to the micro-dollar: {lines:#?}");
}

#[test]
fn storage_and_custom_models_are_priced_per_unit_month_by_the_plan_of_each_day() {
    let nov: Month = "2026-11".parse().expect("month");
    let mut small = plan("Small", 0, 0, &[]);
    small.storage_gb_month_micros = 300_000; // $0.30 per GB-month
    small.custom_model_month_micros = 30_000_000; // $30 per model-month
    let mut big = plan("Big", 0, 0, &[]);
    big.storage_gb_month_micros = 150_000;
    // Big from the 21st at noon: that day is Big's.
    let subs = [
        (at("2026-10-01T00:00:00Z"), &small),
        (at("2026-11-21T12:00:00Z"), &big),
    ];
    let first = at("2026-11-01T00:00:00Z");
    let mut samples = Vec::new();
    for d in 0..30 {
        let day = first + d * DAY_MS;
        samples.push(Sample {
            meter: Meter::StorageBytes,
            day,
            value: 2_000_000_000, // 2 GB every day
        });
        if d < 15 {
            samples.push(Sample {
                meter: Meter::CustomModels,
                day,
                value: 48, // two models all day: 48 model-hours
            });
        }
    }
    // A sample outside the month is not this invoice's.
    samples.push(Sample {
        meter: Meter::StorageBytes,
        day: first - DAY_MS,
        value: i64::MAX,
    });
    let lines = metered(nov, &subs, &samples);
    let amounts = amounts(&lines);
    // Small: 20 days × 2 GB = 40 GB-days = 4/3 GB-month × $0.30 = $0.40;
    // Big: 10 days × 2 GB = 2/3 GB-month × $0.15 = $0.10; custom models:
    // 720 model-hours = 1 model-month × $30 on Small; Big prices them at 0.
    assert!(
        amounts.contains(&(LineKind::Storage, 20, 400_000)),
        "{lines:#?}"
    );
    assert!(
        amounts.contains(&(LineKind::Storage, 10, 100_000)),
        "{lines:#?}"
    );
    assert!(amounts.contains(&(LineKind::CustomModels, 720, 30_000_000)));
    assert_eq!(amounts.len(), 3, "{lines:#?}");
    let small_storage = lines
        .iter()
        .find(|l| l.kind == LineKind::Storage && l.quantity == 20)
        .expect("Small's storage");
    assert!(
        small_storage.description.contains("1.333333 GB-months"),
        "{}",
        small_storage.description
    );
}

#[test]
fn hosting_fees_are_billed_for_the_days_deployed() {
    let nov: Month = "2026-11".parse().expect("month");
    let p = plan("Any", 0, 0, &[]);
    let subs = [(at("2026-10-01T00:00:00Z"), &p)];
    let first = at("2026-11-01T00:00:00Z");
    // $30 a month of fees for 10 days, then $60 (a second model) for 5.
    let samples: Vec<Sample> = (0..15)
        .map(|d| Sample {
            meter: Meter::HostingFees,
            day: first + d * DAY_MS,
            // Fee-hours: a whole day of each month's fee.
            value: 24 * if d < 10 { 30_000_000 } else { 60_000_000 },
        })
        .collect();
    let lines = metered(nov, &subs, &samples);
    // 10/30 × $30 + 5/30 × $60 = $10 + $10, whatever the plan prices.
    let fees = amounts(&lines);
    assert_eq!(
        fees,
        [(LineKind::HostingFees, 15, 20_000_000)],
        "{lines:#?}"
    );
}

#[test]
fn months_parse_and_bound_their_milliseconds() {
    let m: Month = "2026-12".parse().expect("month");
    assert_eq!(m.to_string(), "2026-12");
    assert_eq!(m.next().to_string(), "2027-01");
    assert_eq!(m.prev().to_string(), "2026-11");
    assert_eq!(
        m.window(),
        (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
    );
    assert_eq!(Month::of(at("2026-12-31T23:59:59.999Z")), m);
    for bad in ["2026-13", "2026", "26-01", "x-y", "1999-01"] {
        assert!(bad.parse::<Month>().is_err(), "{bad}");
    }
    assert_eq!(Invoice::number_for(m, 7), "ATR-2026-12-0007");
}

#[test]
fn csv_quotes_and_defuses_formulas() {
    let inv = Invoice {
        tenant_id: crate::domain::tenant::TenantId::parse("00000000-0000-4000-8000-000000000001")
            .expect("id"),
        tenant_name: "T".into(),
        month: "2026-11".parse().expect("month"),
        status: InvoiceStatus::Issued,
        number: Some("ATR-2026-11-0001".into()),
        issued_at: Some(0),
        lines: vec![InvoiceLine {
            kind: LineKind::Usage,
            description: "=cmd, \"x\"".into(),
            quantity: 2,
            unit_price_micros: Some(1_500_000),
            unit: "tokens".into(),
            amount_micros: 3,
        }],
        usage_micros: 3,
        late: vec![],
        total_micros: 3,
    };
    let csv = inv.to_csv();
    assert!(
        csv.contains("usage,\"'=cmd, \"\"x\"\"\",2,tokens,1.500000,0.000003"),
        "{csv}"
    );
    assert!(csv.ends_with("total,,,,,0.000003\n"));
}

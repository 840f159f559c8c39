//! Invoices on SQLite and PostgreSQL: a month of synthetic ledger rows
//! priced across a mid-month price change and a plan change; the issued
//! invoice's usage equals the ledger to the micro-dollar, and neither a new
//! price nor a late event changes it (the late event goes on the next one).

use atrium::domain::completion::Dialect;
use atrium::domain::invoice::{Invoice, InvoiceStatus, LineKind, Month};
use atrium::domain::meter::{Meter, Sample};
use atrium::domain::pii::Classification;
use atrium::domain::policy::Action;
use atrium::domain::pricing::{request_cost, units_cost, Price, TokenCounts};
use atrium::domain::role::Role;
use atrium::domain::tenant::TenantId;
use atrium::domain::time::{now_millis, DAY, HOUR};
use atrium::domain::usage::{UsageEvent, UsageKind};
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::plans::{self, NewPlan};
use atrium::server::services::{invoices, meters, Actor, ServiceError};

use crate::cli::atrium;
use crate::common::TestApp;
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(an_issued_invoice_equals_the_ledger_and_never_changes);

const FIRST: Price = Price {
    input_per_mtok: 3_100_000,
    output_per_mtok: 15_000_000,
    cache_read_per_mtok: 0,
    cache_write_per_mtok: 0,
    per_request: 0,
    per_server_tool_use: 0,
};
/// From mid-month, cheaper tokens and $0.001 per answered request.
const SECOND: Price = Price {
    input_per_mtok: 2_000_000,
    output_per_mtok: 9_000_000,
    cache_read_per_mtok: 0,
    cache_write_per_mtok: 0,
    per_request: 1_000,
    per_server_tool_use: 0,
};
/// $0.00002 per flag evaluation, and $0.50 per GB-month on both plans.
const EVALUATION: i64 = 20;
const STORAGE_GB_MONTH: i64 = 500_000;

fn event(tenant: &TenantId, n: usize, at: i64, price: &Price) -> UsageEvent {
    let tokens = TokenCounts {
        input: 7 + (n % 13) as i64,
        output: 3 + (n % 5) as i64,
        ..Default::default()
    };
    UsageEvent {
        request_id: format!("req-{at}-{n}"),
        tenant_id: tenant.clone(),
        api_key_id: None,
        kind: UsageKind::Completion,
        units: 0,
        model: "claude-mock".into(),
        provider: Some("mock-anthropic".into()),
        dialect: Some(Dialect::Anthropic),
        stream: false,
        input_tokens: tokens.input,
        output_tokens: tokens.output,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: request_cost(price, &tokens, true),
        latency_ms: 5,
        status: 200,
        error_type: None,
        created_at: at,
        policy_action: Action::Allow,
        classification: Classification::Public,
        price_from: None,
        pii_classes: Default::default(),
        provider_region: None,
        end_user: None,
        log: None,
    }
}

async fn plan(app: &TestApp, name: &str, fee: i64, markup: i32) -> String {
    let new = NewPlan {
        name: name.into(),
        base_fee_micros: fee,
        included_credit_micros: 1_000,
        markup_percent: [("*".to_string(), markup)].into_iter().collect(),
        rpm: None,
        tpm: None,
        monthly_budget: None,
        storage_gb_month_micros: STORAGE_GB_MONTH,
        custom_model_month_micros: 0,
    };
    plans::create(&app.svc, &Actor::system("test"), new)
        .await
        .expect("plan")
        .id
}

/// `units` OFREP evaluations in one request, priced as the gateway does.
fn evaluations(tenant: &TenantId, at: i64, units: i64) -> UsageEvent {
    UsageEvent {
        request_id: format!("ofrep-{at}"),
        kind: UsageKind::FlagEvaluation,
        units,
        model: "-".into(),
        provider: None,
        dialect: None,
        input_tokens: 0,
        output_tokens: 0,
        cost_micros: units_cost(units, EVALUATION),
        ..event(tenant, 0, at, &FIRST)
    }
}

fn cli_invoice(app: &TestApp, args: &[&str]) -> String {
    let out = atrium(app, args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// History the services only ever write from now on: the model priced
/// FIRST from the start and SECOND from `mid`, the tenant created before
/// the month, on plan Starter and from `mid` on Scale.
async fn history(app: &TestApp, tenant: &TenantId, start: i64, mid: i64) {
    let pool = &app.svc.db.pool;
    let model_id: String = sqlx::query_scalar("SELECT id FROM models WHERE name = 'claude-mock'")
        .fetch_one(pool)
        .await
        .expect("model");
    let versions = [(0, FIRST), (mid, SECOND)];
    sqlx::query("DELETE FROM model_prices WHERE model_id = $1")
        .bind(&model_id)
        .execute(pool)
        .await
        .expect("prices");
    for (from, p) in versions {
        sqlx::query(
            "INSERT INTO model_prices (model_id, effective_from, input_micros_per_mtok, \
             output_micros_per_mtok, cache_read_micros_per_mtok, cache_write_micros_per_mtok, \
             request_micros, created_at) VALUES ($1, $2, $3, $4, 0, 0, $5, 0)",
        )
        .bind(&model_id)
        .bind(from)
        .bind(p.input_per_mtok)
        .bind(p.output_per_mtok)
        .bind(p.per_request)
        .execute(pool)
        .await
        .expect("price version");
    }
    sqlx::query(
        "INSERT INTO evaluation_prices (effective_from, micros_per_evaluation, created_at) \
         VALUES (0, $1, 0)",
    )
    .bind(EVALUATION)
    .execute(pool)
    .await
    .expect("evaluation price");
    sqlx::query("UPDATE tenants SET created_at = $1 WHERE id = $2")
        .bind(start - DAY)
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .expect("tenant");
    for (from, plan_id) in [
        (start - DAY, plan(app, "Starter", 30_000_000, 10).await),
        (mid, plan(app, "Scale", 120_000_000, -20).await),
    ] {
        sqlx::query(
            "INSERT INTO subscriptions (tenant_id, plan_id, effective_from, created_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(tenant.as_str())
        .bind(plan_id)
        .bind(from)
        .execute(pool)
        .await
        .expect("subscription");
    }
}

fn usage_sum(inv: &Invoice) -> i64 {
    inv.lines
        .iter()
        .filter(|l| {
            matches!(
                l.kind,
                LineKind::Usage | LineKind::Rounding | LineKind::Requests | LineKind::Evaluations
            )
        })
        .map(|l| l.amount_micros)
        .sum()
}

async fn an_issued_invoice_equals_the_ledger_and_never_changes(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, _) = tenant_with_key(&app, "Invoiced", 100, "eu-west").await;
    let month = Month::of(now_millis()).prev().prev();
    let (start, end) = month.window();
    let mid = start + 14 * DAY + 5 * HOUR;
    history(&app, &tenant, start, mid).await;
    // Every hour of the month, a few requests, priced as the gateway does.
    let mut events = Vec::new();
    let mut at = start;
    while at < end {
        let price = if at < mid { FIRST } else { SECOND };
        for n in 0..3 {
            events.push(event(&tenant, n, at + n as i64, &price));
        }
        if (at - start) % DAY == 0 {
            events.push(evaluations(&tenant, at + 10, 5));
            let sample = Sample {
                meter: Meter::StorageBytes,
                day: at,
                value: 3_000_000_000,
            };
            meters::record(&app.svc, &tenant, &sample)
                .await
                .expect("sample");
        }
        at += HOUR;
    }
    let ledger: i64 = events.iter().map(|e| e.cost_micros).sum();
    for chunk in events.chunks(500) {
        app.svc
            .stores
            .write_usage(&tenant, chunk)
            .await
            .expect("ledger");
    }
    let tid = tenant.to_string();
    let m = month.to_string();
    let out = cli_invoice(
        &app,
        &[
            "invoice", "issue", "--tenant", &tid, "--month", &m, "--json",
        ],
    );
    let issued: Invoice = serde_json::from_str(&out).expect("invoice json");
    assert_eq!(issued.status, InvoiceStatus::Issued);
    assert_eq!(
        issued.number.as_deref(),
        Some(format!("ATR-{m}-0001").as_str())
    );
    assert_eq!(issued.usage_micros, ledger);
    assert_eq!(
        usage_sum(&issued),
        ledger,
        "usage lines equal the ledger to the micro-dollar"
    );
    assert_eq!(
        issued.total_micros,
        issued.lines.iter().map(|l| l.amount_micros).sum::<i64>()
    );
    let kinds = |k: LineKind| issued.lines.iter().filter(|l| l.kind == k).count();
    assert_eq!(kinds(LineKind::BaseFee), 2, "two plans share the base fee");
    assert_eq!(
        kinds(LineKind::Markup),
        2,
        "Starter's markup, then Scale's discount"
    );
    assert_eq!(
        kinds(LineKind::Usage),
        4,
        "input and output at two price versions"
    );
    assert_eq!(kinds(LineKind::Credit), 1);
    assert_eq!(
        kinds(LineKind::Requests),
        2,
        "requests at $0.001 from mid-month, free before"
    );
    let evaluated: Vec<_> = issued
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Evaluations)
        .collect();
    let days = (end - start) / DAY;
    assert_eq!(evaluated.len(), 1);
    assert_eq!(evaluated[0].quantity, 5 * days);
    assert_eq!(evaluated[0].amount_micros, 5 * days * EVALUATION);
    // 3 GB all month at $0.50 per GB-month, split between the two plans
    // by day and rounded once per line.
    let storage: Vec<_> = issued
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Storage)
        .collect();
    assert_eq!(storage.len(), 2, "{:#?}", issued.lines);
    assert_eq!(storage[0].quantity + storage[1].quantity, days);
    let stored: i64 = storage.iter().map(|l| l.amount_micros).sum();
    assert!((stored - 1_500_000).abs() <= 1, "{stored}");

    // A new price and a late event for the issued month change nothing in it.
    let later = Price {
        input_per_mtok: 50_000_000,
        ..SECOND
    };
    let late = event(&tenant, 99, end - 1, &later);
    app.svc
        .stores
        .write_usage(&tenant, std::slice::from_ref(&late))
        .await
        .expect("late");
    let again = cli_invoice(
        &app,
        &["invoice", "show", "--tenant", &tid, "--month", &m, "--json"],
    );
    assert_eq!(
        serde_json::from_str::<Invoice>(&again).expect("json"),
        issued
    );
    let reissued = invoices::issue(&app.svc, &Actor::system("test"), &tenant, month)
        .await
        .expect("idempotent");
    assert_eq!(reissued, issued);
    // It goes on the next month's invoice instead, as a line of its own.
    let next = invoices::get(&app.svc, &Actor::system("test"), &tenant, month.next())
        .await
        .expect("draft");
    assert_eq!(next.status, InvoiceStatus::Draft);
    let carried: Vec<_> = next
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::LateUsage)
        .collect();
    assert_eq!(carried.len(), 1, "{:?}", next.lines);
    assert_eq!(carried[0].amount_micros, late.cost_micros);
    assert!(carried[0].description.contains(&format!("ATR-{m}-0001")));

    let csv = cli_invoice(
        &app,
        &["invoice", "show", "--tenant", &tid, "--month", &m, "--csv"],
    );
    assert!(csv.starts_with("kind,description,quantity,unit,unit_price_usd,amount_usd\n"));
    assert_eq!(csv.lines().count(), issued.lines.len() + 2);

    // The open month cannot be issued; tenant users read, never issue.
    let open = invoices::issue(
        &app.svc,
        &Actor::system("test"),
        &tenant,
        Month::of(now_millis()),
    )
    .await;
    assert!(matches!(open, Err(ServiceError::Invalid(_))), "{open:?}");
    let viewer = Actor {
        user_id: Some("v".into()),
        label: "viewer".into(),
        role: Role::TenantViewer,
        tenant_id: Some(tenant.clone()),
        client_ip: None,
    };
    let mine = invoices::list(&app.svc, &viewer, &tenant)
        .await
        .expect("own invoices");
    assert!(mine.iter().any(|i| i.number == issued.number));
    assert!(matches!(
        invoices::issue(&app.svc, &viewer, &tenant, month).await,
        Err(ServiceError::Forbidden)
    ));
    let (other, _) = tenant_with_key(&app, "Other", 100, "eu-west").await;
    assert!(matches!(
        invoices::list(&app.svc, &viewer, &other).await,
        Err(ServiceError::NotFound(_))
    ));
    let audited = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _)| a == "invoice.issue")
        .count();
    assert_eq!(audited, 1, "issued once, audited once");
    app
}

//! Prices beyond tokens (issue 12), on SQLite and PostgreSQL, through the
//! real gateway and CLI: a per-request charge set with `price set
//! --per-request` lands on each answered request's ledger cost; a flag
//! evaluation price set with `price set-evaluation` prices OFREP requests
//! by their evaluations; `usage sample-meters` samples each tenant's stored
//! data once a day; both price changes are audited.

use std::time::{Duration, Instant};

use atrium::domain::flag::{Flag, FlagKey};
use atrium::domain::invoice::Month;
use atrium::domain::pricing::{cost, Price, TokenCounts};
use atrium::domain::time::now_millis;
use atrium::server::services::catalog;
use atrium::server::services::flags::{self, Scope};

use crate::cli::atrium;
use crate::common::TestApp;
use crate::flags::{ofrep, tenant_admin};
use crate::governance::{send, setup};

on_both_backends!(requests_evaluations_and_stored_data_are_metered_and_priced);

fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = atrium(app, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Polls until the running server's catalog satisfies `ready` (a CLI
/// change reaches it within one 2 s poll).
async fn until_known(app: &TestApp, ready: impl Fn(&catalog::Catalog) -> bool) {
    let waited = Instant::now();
    while !ready(&catalog::snapshot(&app.svc)) {
        assert!(waited.elapsed() < Duration::from_secs(5), "not learned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ledger(app: &TestApp, tenant: &str) -> Vec<(String, i64, i64, i64, i64, i64)> {
    app.running.gateway.ledger.flush().await;
    sqlx::query_as(
        "SELECT kind, units, input_tokens, output_tokens, cost_micros, status FROM usage_events \
         WHERE tenant_id = $1 ORDER BY created_at",
    )
    .bind(tenant)
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("ledger")
}

async fn requests_evaluations_and_stored_data_are_metered_and_priced(app: TestApp) -> TestApp {
    let s = setup(&app, "Metered").await;
    let tenant = s.tenant_id.to_string();
    cli(
        &app,
        &[
            "price",
            "set",
            "--model",
            "gpt-mock",
            "--input",
            "2",
            "--output",
            "8",
            "--per-request",
            "0.0025",
        ],
    );
    cli(&app, &["price", "set-evaluation", "--usd", "0.00003"]);
    until_known(&app, |c| {
        let per_request = c
            .models
            .get("gpt-mock")
            .and_then(|m| m.price_at(now_millis()))
            .map(|p| p.per_request);
        per_request == Some(2_500) && c.evaluation_prices.at(now_millis()).is_some()
    })
    .await;

    assert_eq!(
        send(&app, &s.key, "openai", "one two three", false).await.0,
        200
    );
    let rows = ledger(&app, &tenant).await;
    let (_, _, input, output, charged, _) = rows[0].clone();
    let tokens = TokenCounts {
        input,
        output,
        ..TokenCounts::default()
    };
    let price = Price {
        input_per_mtok: 2_000_000,
        output_per_mtok: 8_000_000,
        ..Price::default()
    };
    assert_eq!(
        charged,
        cost(&price, &tokens) + 2_500,
        "tokens plus the per-request charge"
    );

    // Three tenant flags evaluated in one bulk OFREP request: 3 × $0.00003.
    for key in ["one", "two", "three"] {
        let flag = Flag::boolean(FlagKey::parse(key).expect("key"), "metered");
        flags::create(
            &app.svc,
            &tenant_admin(&s.tenant_id),
            &Scope::Tenant(s.tenant_id.clone()),
            flag,
        )
        .await
        .expect("flag");
    }
    let (status, body, _) = ofrep(
        &app,
        &s.key,
        "/ofrep/v1/evaluate/flags",
        r#"{"context":{"targetingKey":"u1"}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = ledger(&app, &tenant).await;
    let evaluated = rows
        .iter()
        .find(|r| r.0 == "flag_evaluation")
        .expect("evaluations metered");
    assert_eq!((evaluated.1, evaluated.4), (3, 90));

    // Stored data: sampled once a day, the first sample standing.
    let sampled = cli(&app, &["usage", "sample-meters", "--json"]);
    let sampled: serde_json::Value = serde_json::from_str(&sampled).expect("json");
    let mine = sampled
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["tenant_id"] == tenant.as_str())
        .expect("this tenant sampled");
    assert_eq!(mine["meter"], "storage_bytes");
    assert!(mine["value"].as_i64().expect("bytes") > 0, "{mine}");
    let again = cli(&app, &["usage", "sample-meters", "--json"]);
    assert!(!again.contains(tenant.as_str()), "once a day: {again}");
    let month = Month::of(now_millis()).to_string();
    let listed = cli(
        &app,
        &[
            "usage", "meters", "--tenant", &tenant, "--month", &month, "--json",
        ],
    );
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    // Stored data, and the day's deployed custom models and their hosting
    // fees (none here: counted as 0, not left out).
    let value = |meter: &str| {
        listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["meter"] == meter)
            .map(|r| r["value"].clone())
    };
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    assert_eq!(value("storage_bytes"), Some(mine["value"].clone()));
    assert_eq!(value("custom_models"), Some(serde_json::json!(0)));
    assert_eq!(value("hosting_fees"), Some(serde_json::json!(0)));

    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT resource_type, details FROM audit_events WHERE action = 'price.set' ORDER BY seq",
    )
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("audit");
    let meter = audited
        .iter()
        .find(|(t, _)| t == "meter")
        .expect("evaluation price audited");
    let d: serde_json::Value = serde_json::from_str(&meter.1).expect("details");
    assert_eq!(d["after"]["price"], 30);
    assert!(d["before"].is_null());
    let model = audited
        .iter()
        .rev()
        .find(|(t, _)| t == "model")
        .expect("model price audited");
    let d: serde_json::Value = serde_json::from_str(&model.1).expect("details");
    assert_eq!(d["after"]["price"]["per_request"], 2_500);
    app
}

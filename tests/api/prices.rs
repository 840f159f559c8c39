//! Prices with history (issue 12), on SQLite and PostgreSQL: a price set
//! from a later moment leaves requests before it at the old price and
//! prices those after it with the new one, through the real gateway; the
//! past cannot be re-priced; the change is audited with before and after.

use std::time::Duration;

use atrium::domain::pricing::{cost, Price, TokenCounts};
use atrium::domain::time::{now_millis, rfc3339};
use atrium::server::services::catalog;

use crate::cli::atrium;
use crate::common::TestApp;
use crate::flags::cli;
use crate::governance::{send, setup};

on_both_backends!(a_price_applies_from_its_moment_on);

async fn a_price_applies_from_its_moment_on(app: TestApp) -> TestApp {
    let s = setup(&app, "Priced").await;
    let at = now_millis() + 3_000;
    cli(
        &app,
        &[
            "price",
            "set",
            "--model",
            "gpt-mock",
            "--input",
            "6",
            "--output",
            "30",
            "--effective-from",
            &rfc3339(at),
        ],
    );
    let past = atrium(
        &app,
        &[
            "price",
            "set",
            "--model",
            "gpt-mock",
            "--input",
            "1",
            "--output",
            "1",
            "--effective-from",
            "2020-01-01T00:00:00Z",
        ],
        None,
    );
    assert!(!past.status.success());
    assert!(String::from_utf8_lossy(&past.stderr).contains("cannot change the past"));

    // The running server learns the scheduled version within a poll...
    let known = || {
        catalog::snapshot(&app.svc)
            .models
            .get("gpt-mock")
            .map_or(0, |m| m.prices.versions().len())
    };
    let waited = std::time::Instant::now();
    while known() < 2 {
        assert!(waited.elapsed() < Duration::from_secs(2), "not within 2 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...and applies it only from its moment.
    assert!(
        now_millis() < at - 200,
        "the test ran too slowly to check before"
    );
    assert_eq!(
        send(&app, &s.key, "openai", "one two three", false).await.0,
        200
    );
    let wait = u64::try_from(at + 50 - now_millis()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert_eq!(
        send(&app, &s.key, "openai", "one two three", false).await.0,
        200
    );

    app.running.gateway.ledger.flush().await;
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT created_at, input_tokens, output_tokens, cost_micros FROM usage_events \
         WHERE tenant_id = $1 ORDER BY created_at",
    )
    .bind(s.tenant_id.as_str())
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("rows");
    assert_eq!(rows.len(), 2);
    let new_price = Price {
        input_per_mtok: 6_000_000,
        output_per_mtok: 30_000_000,
        ..Price::default()
    };
    let (_, input, output, before) = rows[0];
    assert_eq!(before, 0, "the old price (free) before the moment");
    let (_, input2, output2, after) = rows[1];
    assert_eq!((input, output), (input2, output2));
    let tokens = TokenCounts {
        input: input2,
        output: output2,
        ..TokenCounts::default()
    };
    assert!(after > 0);
    assert_eq!(after, cost(&new_price, &tokens), "the new price after it");

    let list = atrium(
        &app,
        &["price", "list", "--model", "gpt-mock", "--json"],
        None,
    );
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list[0]["in_force"], false);
    assert_eq!(list[1]["in_force"], true);
    assert_eq!(list[1]["price"]["input_per_mtok"], 6_000_000);

    let (details,): (String,) = sqlx::query_as(
        "SELECT details FROM audit_events WHERE action = 'price.set' ORDER BY at DESC LIMIT 1",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("audited");
    let d: serde_json::Value = serde_json::from_str(&details).expect("details");
    assert_eq!(d["before"]["price"]["input_per_mtok"], 0);
    assert_eq!(d["after"]["price"]["input_per_mtok"], 6_000_000);
    app
}

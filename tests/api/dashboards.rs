//! Usage dashboards on SQLite and PostgreSQL: the hourly rollups the ledger
//! writer keeps equal the raw events (a re-sent batch counts once; a
//! rebuild gives the same rows, in shared tables and in a schema store);
//! the Usage page draws its charts on the server, follows the URL's
//! filters, serves the CSV of what it shows, and only to the tenant's own
//! users; the platform overview ranks tenants and models.

use atrium::domain::tenant::{IsolationLevel, TenantId, TenantSettings};
use atrium::domain::time::{now_millis, HOUR};
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::{api_keys, tenants, Actor};

use crate::common::{self, TestApp};
use crate::gateway::{setup, tenant_with_key};
use crate::portal::create_user;

on_both_backends!(rollups_equal_the_ledger, the_usage_page_and_the_overview);

/// Sums of the events and of the rollups, per model.
async fn sums(
    app: &TestApp,
    tenant: &TenantId,
) -> (Vec<(String, i64, i64)>, Vec<(String, i64, i64)>) {
    app.running.gateway.ledger.flush().await;
    let store = app.svc.stores.open(tenant).await.expect("store");
    let report =
        atrium::server::services::usage::report(&app.svc, &Actor::system("t"), tenant, None, None)
            .await
            .expect("report");
    let events = report
        .by_model
        .iter()
        .map(|(m, t)| (m.clone(), t.requests, t.cost_micros))
        .collect();
    let mut rolled: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for h in store
        .rollup_totals((0, now_millis() + HOUR), true, None, None)
        .await
        .expect("hours")
    {
        let e = rolled.entry(h.model).or_default();
        e.0 += h.requests;
        e.1 += h.cost_micros;
    }
    let rolled = rolled
        .into_iter()
        .filter(|(_, (r, _))| *r > 0)
        .map(|(m, (r, c))| (m, r, c))
        .collect();
    (events, rolled)
}

async fn traffic(app: &TestApp, key: &str, n: usize) {
    for i in 0..n {
        let model = if i % 3 == 0 {
            "gpt-mock"
        } else {
            "claude-mock"
        };
        let r = crate::gateway::post(app, "/v1/messages", key, serde_json::json!({
            "model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "count these words"}]
        }))
        .await;
        assert_eq!(r.status().as_u16(), 200);
    }
}

async fn rollups_equal_the_ledger(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (shared, key) = tenant_with_key(&app, "Rolled", 10_000, "eu-west").await;
    let actor = Actor::system("test");
    let settings = TenantSettings::new(
        "Rolled schema",
        IsolationLevel::SchemaPerTenant,
        "eu-west",
        10_000,
        1_000_000,
    )
    .expect("settings");
    let schema = tenants::create(&app.svc, &actor, settings)
        .await
        .expect("tenant")
        .id;
    let schema_key = api_keys::create(&app.svc, &actor, &schema, "k", None)
        .await
        .expect("key")
        .key;
    traffic(&app, &key, 9).await;
    traffic(&app, &schema_key, 5).await;
    for tenant in [&shared, &schema] {
        let (events, rolled) = sums(&app, tenant).await;
        assert!(!events.is_empty());
        assert_eq!(events, rolled, "rollups equal the events");
        // A batch written twice (a retried flush) counts once.
        let store = app.svc.stores.open(tenant).await.expect("store");
        let page = store.usage_page("", None, 1000).await.expect("events");
        app.svc
            .stores
            .write_usage(tenant, &page)
            .await
            .expect("rewrite");
        assert_eq!(
            sums(&app, tenant).await.1,
            rolled,
            "duplicates are not counted"
        );
        let before = store
            .rollup_totals((0, now_millis() + HOUR), true, None, None)
            .await
            .expect("hours");
        let out = crate::cli::atrium(
            &app,
            &["usage", "rebuild-rollups", "--tenant", tenant.as_str()],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = store
            .rollup_totals((0, now_millis() + HOUR), true, None, None)
            .await
            .expect("hours");
        assert_eq!(before, after, "a rebuild gives the same rollups");
    }
    app
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.expect("page");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn the_usage_page_and_the_overview(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Charted", 10_000, "eu-west").await;
    let (other, _) = tenant_with_key(&app, "Elsewhere", 10_000, "eu-west").await;
    traffic(&app, &key, 6).await;
    app.running.gateway.ledger.flush().await;
    let admin = app.admin().await;
    create_user(
        &app,
        &admin,
        "viewer@charted.io",
        "tenant_viewer",
        tenant.as_str(),
    )
    .await;
    let viewer = common::client();
    app.sign_in(&viewer, "viewer@charted.io", "a-long-password-1")
        .await;

    let spec = atrium::server::services::budgets::BudgetSpec {
        tenant: tenant.to_string(),
        api_key: None,
        limit_micros: 50_000_000,
        period: atrium::domain::budget::Period::Month,
        enforcement: atrium::domain::budget::Enforcement::Hard,
        webhook_url: None,
    };
    atrium::server::services::budgets::set(&app.svc, &Actor::system("test"), spec)
        .await
        .expect("budget");
    let (status, html) = page(&app, &viewer, &format!("/tenants/{tenant}/usage")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Budget burn-down this month"),
        "the month budget burns down"
    );
    assert!(
        html.contains("of $50.00; at this pace the month ends at"),
        "with its projection"
    );
    for part in [
        "<svg",
        "Spend per day, stacked by model",
        "claude-mock",
        "gpt-mock",
        "Requests per hour, errors on top",
        "<option value=\"30d\" selected",
    ] {
        assert!(html.contains(part), "the usage page shows {part:?}");
    }
    let (_, week) = page(
        &app,
        &viewer,
        &format!("/tenants/{tenant}/usage?period=7d&model=gpt-mock"),
    )
    .await;
    assert!(
        week.contains("<option value=\"7d\" selected"),
        "the URL sets the period"
    );
    // Type-erased components end each text with a `<!>` hydration marker.
    let week = week.replace("<!>", "");
    assert!(
        !week.contains("<td><code>claude-mock</code></td>"),
        "the model filter applies to the table"
    );
    assert!(
        week.contains("<td><code>gpt-mock</code></td>"),
        "the filtered model is in the table"
    );
    let csv = viewer
        .get(app.url(&format!(
            "/tenants/{tenant}/usage/download?period=7d&model=gpt-mock"
        )))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status().as_u16(), 200);
    let csv = csv.text().await.unwrap_or_default();
    assert!(csv.starts_with("day,model,tokens,cost_usd\n"));
    assert_eq!(csv.lines().count(), 2, "one day, one model: {csv}");
    assert!(csv.contains(",gpt-mock,"));

    let (_, theirs) = page(&app, &viewer, &format!("/tenants/{other}/usage")).await;
    assert!(!theirs.contains("<svg"), "no chart of another tenant");
    assert!(
        theirs.contains("tenant not found"),
        "another tenant's usage is refused"
    );
    let denied = viewer
        .get(app.url(&format!("/tenants/{other}/usage/download")))
        .send()
        .await
        .expect("csv");
    assert_eq!(denied.status().as_u16(), 404);
    assert_eq!(app.call(&viewer, "platform_overview", &[]).await.0, 403);

    // The viewer's dashboard opens on their tenant's month, not on
    // platform counts.
    let (_, home) = page(&app, &viewer, "/").await;
    assert!(home.contains("data-testid=\"tenant-month\""), "{home}");
    for part in ["This month", "Top models", "gpt-mock", "of the tenant"] {
        assert!(home.contains(part), "the viewer's dashboard shows {part:?}");
    }
    assert!(!home.contains("active tenants"), "no platform counts");
    // A tenant made this month has no draft for last month.
    let months: Vec<String> =
        atrium::server::services::invoices::list(&app.svc, &Actor::system("test"), &tenant)
            .await
            .expect("invoices")
            .into_iter()
            .map(|i| i.month.to_string())
            .collect();
    let this = atrium::domain::invoice::Month::of(atrium::domain::time::now_millis());
    assert_eq!(months, vec![this.to_string()], "only this month's draft");

    let (_, billing) = page(&app, &admin, "/billing").await;
    assert!(
        billing.contains("data-testid=\"platform-usage\""),
        "{billing}"
    );
    assert!(
        billing.contains(&format!("/tenants/{tenant}/usage\">Charted")),
        "Charted ranks among the top tenants"
    );
    app
}

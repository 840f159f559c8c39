//! Leases (issue 12), with two replicas sharing Redis on both backends:
//! far from the limit a replica serves holds from a lease instead of a
//! Redis call per request; the costs still reach Redis's spend counter
//! exactly (it equals the ledger), idle leases are given back (nothing
//! stays held), and near the limit there are none.

use std::time::Duration;

use atrium::domain::budget::Period;
use atrium::domain::time::now_millis;
use atrium::server::devtools::mock_upstream::MockOptions;

use crate::budgets::{call, hard_budget, replicas, spent, worst};
use crate::common::{self, TestApp};
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(; redis: leases_serve_holds_and_are_given_back);

async fn redis_get(key: &str) -> i64 {
    let client = redis::Client::open(common::redis_url().expect("url")).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    redis::cmd("GET")
        .arg(key)
        .query_async::<Option<i64>>(&mut conn)
        .await
        .expect("get")
        .unwrap_or(0)
}

async fn leases_serve_holds_and_are_given_back(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Leased", 1_000_000, "eu-west").await;
    let w = worst(false).max(worst(true));
    // Room for 100,000 worst cases: leases of about 100.
    let limit = w * 100_000;
    hard_budget(&app, &tenant, limit).await;
    let budget_id: String = sqlx::query_scalar("SELECT id FROM budgets WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("budget");
    let reps = replicas(&app, &common::redis_url().expect("ATRIUM_TEST_REDIS_URL")).await;
    let bases: Vec<String> = reps
        .iter()
        .map(|(r, _)| format!("http://{}", r.addr))
        .collect();
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let (base, key) = (bases[i % 2].clone(), key.clone());
            tokio::spawn(async move { call(&base, &key, i).await })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
    let leased: usize = reps.iter().map(|(r, _)| r.gateway.budgets.leases()).sum();
    assert!(leased > 0, "far from the limit, replicas hold leases");
    // Idle leases go back within a second or so, their costs to spend.
    let prefix = format!("atrium:budget:{{{budget_id}}}:");
    let waited = std::time::Instant::now();
    loop {
        let held = redis_get(&format!("{prefix}held_sum")).await;
        let leased: usize = reps.iter().map(|(r, _)| r.gateway.budgets.leases()).sum();
        if held == 0 && leased == 0 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "{held} still held, {leased} leases"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (r, _) in reps {
        r.shutdown().await.expect("replica stops");
    }
    let (first, _) = Period::Month.days(now_millis());
    let counted = redis_get(&format!("{prefix}m:{first}")).await;
    let ledger = spent(&app, &tenant).await;
    assert!(ledger > 0);
    assert_eq!(counted, ledger, "every cost reached Redis's spend, once");
    app
}

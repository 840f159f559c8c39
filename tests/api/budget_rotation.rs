//! A per-key hard budget follows its key across rotations, on both
//! backends: a tenant admin cannot shed the cap a platform admin set on a
//! key by rotating it. The budget moves to the new key, the gateway goes on
//! refusing past the limit, and the spend read from the ledger (what a
//! restarted process loads, and what the portal shows) counts what the old
//! key spent.

use atrium::domain::budget::{Enforcement, Period};
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::budgets::{self, BudgetSpec};
use atrium::server::services::{api_keys, Actor};

use crate::abuse_pools::tenant_admin;
use crate::budgets::{call, spent, worst};
use crate::common::TestApp;
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(a_rotated_key_keeps_its_budget_and_what_it_spent);

async fn a_rotated_key_keeps_its_budget_and_what_it_spent(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (tenant, old_key) = tenant_with_key(&app, "Rotating", 100_000, "eu-west").await;
    let platform = Actor::system("test");
    let keys = api_keys::list(&app.svc, &platform, &tenant)
        .await
        .expect("keys");
    let old_id = keys[0].id.clone();
    let w = worst(false).max(worst(true));
    // Budgets start at a cent: a few dozen requests' worth here.
    let limit = (w * 6).max(10_000);
    let spec = BudgetSpec {
        tenant: tenant.to_string(),
        api_key: Some(old_id.clone()),
        limit_micros: limit,
        period: Period::Month,
        enforcement: Enforcement::Hard,
        webhook_url: None,
    };
    budgets::set(&app.svc, &platform, spec)
        .await
        .expect("a budget on the key");
    let base = app.url("");
    for i in 0..3 {
        let (status, body) = call(&base, &old_key, i).await;
        assert_eq!(status, 200, "{body}");
    }
    let before = spent(&app, &tenant).await;
    assert!(before > 0);

    let rotated = api_keys::rotate(&app.svc, &tenant_admin(&tenant), &old_id)
        .await
        .expect("the tenant's admin rotates the key");
    let new_id = rotated.api_key.id.clone();
    let status = budgets::status::of_tenant(&app.svc, &platform, &tenant)
        .await
        .expect("budget status");
    assert_eq!(status.len(), 1, "one budget, moved, not copied");
    assert_eq!(
        status[0].budget.api_key_id.as_deref(),
        Some(new_id.as_str())
    );
    assert_eq!(
        status[0].spent_micros, before,
        "the moved budget counts what the old key spent"
    );
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'api_key.revoke' AND resource_id = $1",
    )
    .bind(&old_id)
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("the rotation's audit event");
    assert!(
        details.contains(&status[0].budget.id) && details.contains(&new_id),
        "{details}"
    );

    // The new key is held to what is left, not to a fresh limit.
    let mut answered = 0;
    let mut refused = false;
    for i in 0..500 {
        let (status, body) = call(&base, &rotated.key, i).await;
        if status == 429 {
            assert_eq!(
                body.pointer("/error/type")
                    .or_else(|| body.pointer("/error/code"))
                    .and_then(|v| v.as_str()),
                Some("budget_exceeded"),
                "{body}"
            );
            refused = true;
            break;
        }
        assert_eq!(status, 200, "{body}");
        answered += 1;
    }
    assert!(refused, "the new key was refused once the budget was spent");
    let total = spent(&app, &tenant).await;
    assert!(total <= limit, "spent {total} of {limit} across both keys");
    assert!(
        answered > 0 && total + w > limit,
        "refused only when what both keys spent left no room: {total} of {limit}"
    );
    let status = budgets::status::of_tenant(&app.svc, &platform, &tenant)
        .await
        .expect("budget status");
    assert_eq!(
        status[0].spent_micros, total,
        "both keys' spend, from the ledger"
    );
    app
}

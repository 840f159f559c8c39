//! Plans and subscriptions (issue 12), on SQLite and PostgreSQL: plans from
//! the CLI, a tenant's plan changes kept as history and audited, the
//! month's base fee split by day from that history, roles in the service.

use atrium::domain::plan::base_fees;
use atrium::domain::role::Role;
use atrium::domain::tenant::TenantId;
use atrium::server::services::{plans, Actor, ServiceError};
use serde_json::Value;

use crate::cli::{atrium, cli_json as json};
use crate::common::TestApp;
use crate::flags::cli;

on_both_backends!(plans_and_plan_changes, the_billing_page);

async fn plans_and_plan_changes(app: TestApp) -> TestApp {
    let team = json(
        &app,
        &[
            "plan",
            "create",
            "--name",
            "Team",
            "--base-fee",
            "30",
            "--included-credit",
            "5",
            "--markup",
            "*=10",
            "--markup",
            "gpt-mock=-5",
            "--rpm",
            "600",
            "--json",
        ],
    );
    assert_eq!(team[0]["base_fee_micros"], 30_000_000);
    assert_eq!(team[0]["markup_percent"]["gpt-mock"], -5);
    cli(
        &app,
        &[
            "plan",
            "create",
            "--name",
            "Pro",
            "--base-fee",
            "90",
            "--budget-usd",
            "250",
        ],
    );
    for bad in [
        vec!["plan", "create", "--name", "Team"],
        vec!["plan", "create", "--name", "Odd", "--markup", "gpt=lots"],
        vec!["plan", "create", "--name", "Odd", "--markup", "gpt=-150"],
    ] {
        assert!(!atrium(&app, &bad, None).status.success(), "{bad:?}");
    }
    let listed = json(&app, &["plan", "list", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2));

    let tenant = json(&app, &["tenant", "create", "--name", "Planned", "--json"]);
    let tid = TenantId::parse(tenant["id"].as_str().unwrap_or_default()).expect("id");
    cli(&app, &["tenant", "set-plan", "Planned", "Team"]);
    let moved = json(&app, &["tenant", "set-plan", "Planned", "Pro", "--json"]);
    assert_eq!(moved["plan"], "Pro");
    assert!(
        !atrium(&app, &["tenant", "set-plan", "Planned", "Nope"], None)
            .status
            .success()
    );
    // Team set 600 requests a minute; Pro sets no limits, so they stay.
    let limits = atrium::server::services::tenants::get(&app.svc, &Actor::system("t"), &tid)
        .await
        .expect("tenant");
    assert_eq!(limits.rpm_limit, 600);
    // Pro gives each tenant a hard monthly budget of $250.
    let given = atrium::server::services::budgets::list(&app.svc, &Actor::system("t"), &tid)
        .await
        .expect("budgets");
    assert_eq!(given.len(), 1, "{given:?}");
    assert_eq!(given[0].limit_micros, 250_000_000);
    assert_eq!(
        given[0].enforcement,
        atrium::domain::budget::Enforcement::Hard
    );
    assert_eq!(given[0].period, atrium::domain::budget::Period::Month);

    let viewer = Actor {
        user_id: None,
        label: "viewer".into(),
        role: Role::TenantViewer,
        tenant_id: Some(tid.clone()),
        client_ip: None,
    };
    let history = plans::history(&app.svc, &viewer, &tid)
        .await
        .expect("own history");
    let names: Vec<&str> = history.iter().map(|s| s.plan.name.as_str()).collect();
    assert_eq!(names, ["Team", "Pro"]);
    assert!(history[0].effective_from < history[1].effective_from);
    assert!(matches!(
        plans::subscribe(&app.svc, &viewer, &tid, "Team").await,
        Err(ServiceError::Forbidden)
    ));

    // This month's base fee: both changes happened today, so Pro, the plan
    // the day ends on, pays from today to the month's end.
    let subs: Vec<_> = history
        .iter()
        .map(|s| (s.effective_from, &s.plan))
        .collect();
    let today = chrono::Utc::now().date_naive();
    let lines = base_fees(&subs, today);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].plan, "Pro");

    let (details,): (String,) = sqlx::query_as(
        "SELECT details FROM audit_events WHERE action = 'tenant.set_plan' ORDER BY at DESC, seq DESC LIMIT 1",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("audited");
    let d: Value = serde_json::from_str(&details).expect("details");
    assert_eq!(
        (d["before"].as_str(), d["after"].as_str()),
        (Some("Team"), Some("Pro"))
    );
    app
}

/// The Billing page: server-rendered plans and price versions (the one in
/// force, those scheduled); plans and prices set through its server
/// functions; refused to tenant users.
async fn the_billing_page(app: TestApp) -> TestApp {
    use crate::governance::setup;
    use crate::portal::{create_tenant, create_user, s};
    setup(&app, "Billed").await;
    let admin = app.admin().await;
    let plan = [
        ("name", "Scale"),
        ("base_fee", "120"),
        ("included_credit", "20"),
        ("markups", "*=15\ngpt-mock=-10"),
        ("storage_gb_month", "0.2"),
        ("budget_usd", "300"),
    ];
    let (status, body) = app.call(&admin, "create_plan", &plan).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["markup_percent"]["gpt-mock"], -10);
    assert_eq!(body["storage_gb_month_micros"], 200_000);
    assert_eq!(body["monthly_budget"]["enforcement"], "Hard", "{body}");
    let bad = [
        ("name", "Odd"),
        ("base_fee", "1"),
        ("included_credit", "0"),
        ("budget_usd", "5"),
        ("budget_kind", "loud"),
    ];
    let (status, body) = app.call(&admin, "create_plan", &bad).await;
    assert_eq!(status, 400, "{body}");
    // A field missing altogether is the caller's mistake too, not a 500.
    let (status, body) = app.call(&admin, "create_plan", &[("name", "Bare")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("base_fee"), "{body}");
    let evaluation = [("usd", "0.000015")];
    let (status, body) = app.call(&admin, "set_evaluation_price", &evaluation).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["price"], 15);
    let later = atrium::domain::time::rfc3339(atrium::domain::time::now_millis() + 86_400_000);
    let price = [
        ("model", "gpt-mock"),
        ("input", "2.5"),
        ("output", "10"),
        ("effective_from", later.as_str()),
    ];
    assert_eq!(app.call(&admin, "set_price", &price).await.0, 200);
    let past = [
        ("model", "gpt-mock"),
        ("input", "1"),
        ("output", "1"),
        ("effective_from", "2020-01-01T00:00:00Z"),
    ];
    let (status, body) = app.call(&admin, "set_price", &past).await;
    assert_eq!(status, 400, "{body}");

    let html = admin
        .get(app.url("/billing"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .unwrap_or_default();
    for part in [
        "Scale",
        "$120.000000",
        "gpt-mock -10%",
        "scheduled",
        "in force",
        "$2.500000",
        "$0.200000",
        "$300.000000 hard",
        "$0.000015",
    ] {
        assert!(html.contains(part), "billing page lacks {part:?}");
    }

    let tid = s(&create_tenant(&app, &admin, "Billed viewer").await, "id");
    create_user(&app, &admin, "bv@t.io", "tenant_viewer", &tid).await;
    let viewer = crate::common::client();
    app.sign_in(&viewer, "bv@t.io", "a-long-password-1").await;
    assert_eq!(app.call(&viewer, "billing_overview", &[]).await.0, 403);
    assert_eq!(
        app.call(&viewer, "set_evaluation_price", &evaluation)
            .await
            .0,
        403
    );
    app
}

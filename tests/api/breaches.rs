//! Issue 22, item 5 (breach register), on both backends: every breach is
//! recorded with its 72-hour deadline; the notification, the tenants
//! informed and the Art. 34 decision are recorded and audited; tenant
//! admins see their own breaches and those they were told of, no others.

use atrium::domain::breach::{Art34Decision, Breach, DeadlineState, NewBreach};
use atrium::domain::tenant::TenantId;
use atrium::domain::time::{now_millis, HOUR};
use atrium::server::services::compliance::breaches::{self, Step};
use atrium::server::services::{Actor, ServiceError};
use serde_json::Value;

use crate::abuse_pools::tenant_admin;
use crate::cli::atrium;
use crate::common::TestApp;
use crate::gateway::tenant_with_key;

on_both_backends!(the_breach_register_counts_down_and_records_each_step);

fn facts(detected_at: i64) -> NewBreach {
    NewBreach::new(
        detected_at,
        "misdirected export",
        "EMAIL_ADDRESS, usage records",
        (40, 400),
        "addresses seen by another customer",
        "export recalled, access removed",
        "dpo@op.example",
        now_millis(),
    )
    .expect("facts")
}

async fn seen(app: &TestApp, t: &TenantId) -> Vec<Breach> {
    breaches::list(&app.svc, &tenant_admin(t), None)
        .await
        .expect("list")
}

async fn the_breach_register_counts_down_and_records_each_step(app: TestApp) -> TestApp {
    let admin = Actor::system("test");
    let (a, _) = tenant_with_key(&app, "Breach A", 100, "eu-west").await;
    let (b, _) = tenant_with_key(&app, "Breach B", 100, "eu-west").await;
    let now = now_millis();
    let platform = breaches::record(&app.svc, &admin, None, facts(now - 10 * HOUR))
        .await
        .expect("platform breach");
    // One clock reading: two would straddle a millisecond now and then.
    let read_at = now_millis();
    assert!(
        matches!(platform.state(read_at), DeadlineState::Open(left) if left > 61 * HOUR && left <= 62 * HOUR)
    );
    let own = breaches::record(
        &app.svc,
        &tenant_admin(&a),
        Some(&a),
        facts(now - 80 * HOUR),
    )
    .await
    .expect("a tenant admin records their own");
    assert!(matches!(own.state(now_millis()), DeadlineState::Overdue(_)));
    let refused = breaches::record(&app.svc, &tenant_admin(&a), None, facts(now)).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden)));

    // Tenant B sees nothing until informed of the platform breach.
    assert!(seen(&app, &b).await.is_empty());
    breaches::step(&app.svc, &admin, &platform.id, Step::Informed(&b))
        .await
        .expect("inform");
    let b_sees: Vec<String> = seen(&app, &b).await.into_iter().map(|x| x.id).collect();
    assert_eq!(b_sees, vec![platform.id.clone()]);
    let a_sees: Vec<String> = seen(&app, &a).await.into_iter().map(|x| x.id).collect();
    assert_eq!(a_sees, vec![own.id.clone()]);
    let hidden = breaches::get(&app.svc, &tenant_admin(&b), &own.id).await;
    assert!(matches!(hidden, Err(ServiceError::NotFound(_))));

    let notified = breaches::step(
        &app.svc,
        &admin,
        &platform.id,
        Step::Notified {
            at: now_millis(),
            reference: Some("DPA-2026-17"),
        },
    )
    .await
    .expect("notify");
    assert_eq!(notified.state(now_millis()), DeadlineState::NotifiedOnTime);
    let decided = breaches::step(
        &app.svc,
        &admin,
        &platform.id,
        Step::Art34(
            Art34Decision::NotRequired,
            "addresses only, recalled within an hour",
        ),
    )
    .await
    .expect("art 34");
    assert_eq!(decided.art34_decision, Some(Art34Decision::NotRequired));
    let future = breaches::step(
        &app.svc,
        &admin,
        &own.id,
        Step::Notified {
            at: now_millis() + HOUR,
            reference: None,
        },
    )
    .await;
    assert!(matches!(future, Err(ServiceError::Invalid(_))));

    // The CLI lists the register with each deadline, as JSON too.
    let out = atrium(&app, &["breach", "list", "--json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let out = atrium(
        &app,
        &[
            "breach",
            "record",
            "--nature",
            "stolen disk",
            "--categories",
            "usage records",
            "--subjects",
            "0",
            "--records",
            "10",
            "--consequences",
            "none known",
            "--measures",
            "disk encrypted",
            "--dpo",
            "dpo@op.example",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text =
        String::from_utf8_lossy(&atrium(&app, &["breach", "list"], None).stdout).into_owned();
    assert!(
        text.contains("72h 0m left") || text.contains("71h 59m left"),
        "{text}"
    );
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in [
        "breach.record",
        "breach.inform",
        "breach.notify",
        "breach.art34",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected}");
    }
    app
}

//! Issue 22, item 6, on both backends: TOTP sign-in (RFC 6238 codes, each
//! once, recovery codes), a role that requires MFA cannot sign in without
//! it, leavers late or on time against their leaving date, access reviews
//! that revoke what is no longer needed, and the SOC 2 evidence built on them.

use atrium::domain::access_review::{Decision, SubjectKind};
use atrium::domain::compliance::{Period, ReportKind};
use atrium::domain::role::Role;
use atrium::domain::time::{now_millis, HOUR};
use atrium::server::crypto::totp;
use atrium::server::services::{access_reviews, compliance, mfa, users, Actor};
use serde_json::Value;

use crate::common::{client, TestApp};
use crate::portal::{create_tenant, create_user, s};

on_both_backends!(
    mfa_signs_in_with_codes_and_roles_can_require_it,
    leavers_reviews_and_evidence,
    rollups_count_server_errors_apart
);

fn admin() -> Actor {
    Actor::system("test")
}

async fn user_id(app: &TestApp, email: &str) -> String {
    users::id_by_email(&app.svc, email)
        .await
        .expect("query")
        .expect("user")
}

/// Signs in through the form; returns where it was sent.
async fn sign_in(app: &TestApp, email: &str, code: &str) -> String {
    let r = client()
        .post(app.url("/auth/sign-in"))
        .form(&[
            ("email", email),
            ("password", "a-long-password-1"),
            ("code", code),
        ])
        .send()
        .await
        .expect("sign-in");
    r.headers()["location"]
        .to_str()
        .unwrap_or_default()
        .to_string()
}

async fn mfa_signs_in_with_codes_and_roles_can_require_it(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = s(&create_tenant(&app, &c, "Mfa Co").await, "id");
    create_user(&app, &c, "mo@mfa.io", "tenant_admin", &t).await;
    let id = user_id(&app, "mo@mfa.io").await;
    let mo = Actor {
        user_id: Some(id.clone()),
        ..crate::abuse_pools::tenant_admin(&t.parse().expect("id"))
    };
    let enrol = mfa::start(&app.svc, &mo).await.expect("start");
    let secret = totp::from_base32(&enrol.secret).expect("base32");
    assert!(enrol
        .uri
        .starts_with("otpauth://totp/Atrium:mo@mfa.io?secret="));
    let now = (now_millis() / 1000) as u64;
    let first = totp::hotp(&secret, now / totp::STEP_SECS, totp::DIGITS);
    let recovery = mfa::confirm(&app.svc, &mo, &first).await.expect("confirm");
    assert_eq!(recovery.len(), 10);

    assert_eq!(
        sign_in(&app, "mo@mfa.io", "").await,
        "/login?error=mfa",
        "a code is needed"
    );
    assert_eq!(
        sign_in(&app, "mo@mfa.io", "000000").await,
        "/login?error=mfa"
    );
    assert_eq!(
        sign_in(&app, "mo@mfa.io", &first).await,
        "/login?error=mfa",
        "used once"
    );
    let next = totp::hotp(&secret, now / totp::STEP_SECS + 1, totp::DIGITS);
    assert_eq!(sign_in(&app, "mo@mfa.io", &next).await, "/");
    assert_eq!(
        sign_in(&app, "mo@mfa.io", &recovery[0]).await,
        "/",
        "a recovery code"
    );
    assert_eq!(
        sign_in(&app, "mo@mfa.io", &recovery[0]).await,
        "/login?error=mfa",
        "once"
    );

    // Required while someone of the role has not enrolled: refused, or
    // they could never sign in to enrol.
    let early = mfa::require(&app.svc, &admin(), Role::PlatformAdmin, true).await;
    assert!(early.is_err(), "the platform admin has not enrolled");
    // A role that requires MFA: an unenrolled user of it cannot sign in.
    mfa::require(&app.svc, &admin(), Role::TenantViewer, true)
        .await
        .expect("require");
    create_user(&app, &c, "vi@mfa.io", "tenant_viewer", &t).await;
    assert_eq!(sign_in(&app, "vi@mfa.io", "").await, "/login?error=mfa");
    let refused = mfa::require(&app.svc, &mo, Role::TenantViewer, false).await;
    assert!(refused.is_err(), "platform admins set it");
    mfa::reset(&app.svc, &mo, &id)
        .await
        .expect("a tenant admin resets their own tenant's user");
    assert_eq!(
        sign_in(&app, "mo@mfa.io", "").await,
        "/",
        "reset: no code needed"
    );
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in ["user.mfa_enable", "mfa.require", "user.mfa_reset"] {
        assert!(actions.iter().any(|a| a == expected), "{expected}");
    }
    app
}

async fn leavers_reviews_and_evidence(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = s(&create_tenant(&app, &c, "Leavers Co").await, "id");
    let tid = t.parse().expect("tenant id");
    for email in ["late@l.io", "prompt@l.io", "stays@l.io", "goes@l.io"] {
        create_user(&app, &c, email, "tenant_viewer", &t).await;
    }
    let left = now_millis() - 40 * HOUR;
    let late = user_id(&app, "late@l.io").await;
    let prompt = user_id(&app, "prompt@l.io").await;
    for (id, ended) in [(&late, left + 30 * HOUR), (&prompt, left + 2 * HOUR)] {
        users::mark_leaver(&app.svc, &admin(), id, left)
            .await
            .expect("leaver");
        // Seeded: when access really ended.
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(ended)
            .bind(id)
            .execute(&app.svc.db.pool)
            .await
            .expect("seed");
    }
    let review = access_reviews::start(&app.svc, &admin(), Some(&tid))
        .await
        .expect("start");
    let kinds: Vec<SubjectKind> = review.items.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        vec![SubjectKind::User, SubjectKind::User],
        "the two still enabled"
    );
    let goes = user_id(&app, "goes@l.io").await;
    let stays = user_id(&app, "stays@l.io").await;
    access_reviews::attest(
        &app.svc,
        &admin(),
        &review.id,
        (SubjectKind::User, &goes),
        Decision::Revoke,
    )
    .await
    .expect("revoke");
    let again = access_reviews::attest(
        &app.svc,
        &admin(),
        &review.id,
        (SubjectKind::User, &goes),
        Decision::Keep,
    )
    .await;
    assert!(again.is_err(), "attested once");
    let closed = access_reviews::attest(
        &app.svc,
        &admin(),
        &review.id,
        (SubjectKind::User, &stays),
        Decision::Keep,
    )
    .await
    .expect("keep");
    assert!(closed.closed_at.is_some(), "closed with its last decision");
    assert!(
        users::get(&app.svc, &admin(), &goes)
            .await
            .expect("user")
            .disabled
    );

    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let from = chrono::DateTime::from_timestamp_millis(left - 24 * HOUR)
        .expect("t")
        .format("%Y-%m-%d")
        .to_string();
    let req = compliance::Request {
        kind: ReportKind::Soc2,
        tenant: Some(&tid),
        period: Period::days(&from, &day).expect("period"),
        subject: None,
    };
    let doc = compliance::generate(&app.svc, &admin(), req)
        .await
        .expect("soc2");
    let leavers = doc["body"]["access"]["leavers"]
        .as_array()
        .expect("leavers")
        .clone();
    let on_time = |email: &str| -> Value {
        leavers
            .iter()
            .find(|l| l["email"] == email)
            .map(|l| l["on_time"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(on_time("late@l.io"), Value::Bool(false), "30 hours is late");
    assert_eq!(
        on_time("prompt@l.io"),
        Value::Bool(true),
        "2 hours is on time"
    );
    let reviews = &doc["body"]["access"]["access_reviews"];
    assert_eq!(reviews[0]["revoked"], 1);
    assert_eq!(reviews[0]["kept"], 1);
    assert!(doc["body"]["changes"]
        .as_array()
        .is_some_and(|c| c.iter().any(|e| e["action"] == "access_review.attest")));
    assert!(doc["body"]["audit_integrity"]["chains"]
        .as_array()
        .is_some_and(|c| c.iter().all(|c| c["verified"] == true)));

    users::delete(&app.svc, &admin(), &stays)
        .await
        .expect("delete");
    assert!(users::id_by_email(&app.svc, "stays@l.io")
        .await
        .expect("q")
        .is_none());
    app
}

/// The hourly rollups count 5xx apart from 4xx, written and rebuilt alike.
async fn rollups_count_server_errors_apart(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t: atrium::domain::tenant::TenantId = s(&create_tenant(&app, &c, "Errors Co").await, "id")
        .parse()
        .expect("id");
    let events: Vec<_> = [200u16, 400, 429, 502, 504]
        .into_iter()
        .enumerate()
        .map(|(i, status)| atrium::domain::usage::UsageEvent {
            status,
            created_at: now_millis(),
            ..crate::isolation::event(&t, i as u64)
        })
        .collect();
    app.svc
        .stores
        .write_usage(&t, &events)
        .await
        .expect("write");
    let store = app.svc.stores.open(&t).await.expect("store");
    let window = (now_millis() - 2 * HOUR, now_millis() + HOUR);
    let totals = |rows: Vec<atrium::server::db::tenant_store::DayRow>| {
        rows.iter()
            .fold((0, 0), |(e, s), r| (e + r.errors, s + r.server_errors))
    };
    let written = store
        .rollup_totals(window, false, None, None)
        .await
        .expect("totals");
    assert_eq!(totals(written), (4, 2), "4 errors, 2 of them 5xx");
    store.rebuild_rollups().await.expect("rebuild");
    let rebuilt = store
        .rollup_totals(window, false, None, None)
        .await
        .expect("totals");
    assert_eq!(totals(rebuilt), (4, 2));
    app
}

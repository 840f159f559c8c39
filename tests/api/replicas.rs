//! Issue 24: replicas share everything a user sees and run each periodic
//! job once. A form posted to one replica shows its outcome (a new key's
//! secret) once on another; job leases let one replica at a time run a
//! job, renew for their holder, pass to another when they lapse or are
//! given back, and count every run.

use std::time::Duration;

use atrium::server::jobs::{self, Job};
use atrium::server::runtime::Running;
use atrium::server::services::{replicas, Services};

use crate::common::{self, TestApp};
use crate::portal::{create_tenant, s};

on_both_backends!(
    a_flash_posted_to_one_replica_shows_once_on_another,
    each_job_runs_on_one_replica_at_a_time,
    a_change_rebuilds_only_the_cache_it_touched_on_every_replica,
    operators_see_the_replicas_and_their_jobs,
    audit_decisions_a_killed_replica_spooled_are_stored_once,
);

/// Another replica on the test's database (no Redis: nothing here needs it).
async fn replica(app: &TestApp) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    (replica_in(app, dir.path()).await, dir)
}

/// A replica on the test's database with its data in `dir`.
async fn replica_in(app: &TestApp, dir: &std::path::Path) -> Running {
    let config = common::config(&app.db_url, dir);
    let db = atrium::server::db::Db::connect(&app.db_url)
        .await
        .expect("pool");
    let svc = Services::new(db, config, app.svc.secrets.clone());
    atrium::server::runtime::start(svc).await.expect("replica")
}

async fn a_flash_posted_to_one_replica_shows_once_on_another(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Two Replicas").await;
    let (b, _dir) = replica(&app).await;
    // The form is posted to this replica; the page it returns to is B's.
    let on_b = format!("http://{}/tenants/{}", b.addr, s(&t, "id"));
    let res = c
        .post(app.url("/api/create_key"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", &on_b)
        .form(&[
            ("tenant_id", s(&t, "id")),
            ("name", "across".into()),
            ("expires_in_days", "".into()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 302);
    let stored: Vec<String> = sqlx::query_scalar("SELECT sealed FROM flashes")
        .fetch_all(&app.svc.db.pool)
        .await
        .expect("flashes");
    assert_eq!(stored.len(), 1, "the flash waits in the database");
    assert!(
        !stored[0].contains("atr_"),
        "sealed, never the secret in clear"
    );
    let page = |url: String| {
        let c = c.clone();
        async move {
            c.get(url)
                .send()
                .await
                .expect("page")
                .text()
                .await
                .expect("html")
        }
    };
    let html = page(on_b.clone()).await;
    let key = html
        .split("data-testid=\"new-key\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("B shows the new key: {html}"))
        .to_string();
    assert!(key.starts_with("atr_"), "{key}");
    let again = page(app.url(&format!("/tenants/{}", s(&t, "id")))).await;
    assert!(
        !again.contains(&key),
        "shown once, on whichever replica comes next"
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flashes")
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "read and gone");
    b.shutdown().await.expect("B stops");
    app
}

async fn each_job_runs_on_one_replica_at_a_time(app: TestApp) -> TestApp {
    let (b, _dir) = replica(&app).await;
    let (a_svc, b_svc) = (app.svc.clone(), b.services.clone());
    let every = Duration::from_secs(60);
    // Both replicas' loops were started; now ask for one job's turn at once,
    // many times over: one replica holds it, the other never gets it.
    let job = Job::InvoiceIssuer;
    for _ in 0..5 {
        let (x, y) = tokio::join!(
            jobs::claim(&a_svc, job, every),
            jobs::claim(&b_svc, job, every)
        );
        let (x, y) = (x.expect("claim a"), y.expect("claim b"));
        assert!(x ^ y, "exactly one replica runs it: a={x} b={y}");
    }
    let holder: (String, i64) =
        sqlx::query_as("SELECT holder, runs FROM job_leases WHERE name = 'invoice_issuer'")
            .fetch_one(&app.svc.db.pool)
            .await
            .expect("lease");
    assert!(holder.1 >= 5, "every run is counted: {holder:?}");
    let (holder_svc, other) = if holder.0 == *a_svc.replica_id {
        (a_svc.clone(), b_svc.clone())
    } else {
        (b_svc.clone(), a_svc.clone())
    };
    // The holder dies: once its lease lapses the other takes over.
    sqlx::query("UPDATE job_leases SET until_ms = 0 WHERE name = 'invoice_issuer'")
        .execute(&app.svc.db.pool)
        .await
        .expect("lapse");
    assert!(jobs::claim(&other, job, every).await.expect("claim"));
    assert!(
        !jobs::claim(&holder_svc, job, every).await.expect("claim"),
        "the old holder is out"
    );
    // A replica that stops gives its leases back at once.
    jobs::release(&other).await.expect("release");
    assert!(jobs::claim(&holder_svc, job, every).await.expect("claim"));
    // Every job the replicas started is held by one of the two.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let operator = atrium::server::services::Actor::system("test");
    let held = replicas::jobs(&app.svc, &operator).await.expect("leases");
    let reconciler = held
        .iter()
        .find(|j| j.name == "custom_model_reconciler")
        .expect("the reconciler runs under a lease");
    assert!(
        [&*a_svc.replica_id, &*b_svc.replica_id].contains(&reconciler.holder.as_str()),
        "{held:?}"
    );
    b.shutdown().await.expect("B stops");
    let held = replicas::jobs(&app.svc, &operator).await.expect("leases");
    assert!(
        held.iter().all(|j| j.holder != *b_svc.replica_id),
        "B gave its leases back: {held:?}"
    );
    app
}

/// Three replicas starting at once on a fresh PostgreSQL database: none
/// fails, and exactly one creates the first admin and the demo tenant.
pub fn startup_trials() -> Vec<libtest_mimic::Trial> {
    vec![crate::fleet::trial(
        "replicas::postgres::three_replicas_starting_at_once_make_one_admin",
        common::missing(common::Backend::Postgres, common::Needs::Nothing),
        || Box::pin(three_replicas_starting_at_once_make_one_admin()),
    )]
}

async fn three_replicas_starting_at_once_make_one_admin() {
    let dir = tempfile::tempdir().expect("dir");
    let url = common::fresh_database(common::Backend::Postgres, dir.path())
        .await
        .expect("database");
    let starts = (0..3).map(|i| {
        let url = url.clone();
        let data = dir.path().join(format!("replica-{i}"));
        async move {
            let mut config = common::config(&url, &data);
            config.no_demo = false;
            config.secret_key = Some("ab".repeat(32));
            let svc = atrium::server::runtime::open(config).await.expect("open");
            let made = atrium::server::runtime::first_run(&svc)
                .await
                .expect("first run");
            svc.db.close().await;
            made
        }
    });
    let made = futures::future::join_all(starts).await;
    let admins = made.iter().filter(|(admin, _)| admin.is_some()).count();
    let demos = made.iter().filter(|(_, demo)| demo.is_some()).count();
    assert_eq!((admins, demos), (1, 1), "one replica makes them");
    let db = atrium::server::db::Db::connect(&url).await.expect("db");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'platform_admin'")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
    db.close().await;
    common::drop_database(&url).await;
}

/// Waits until `done` holds, failing with `what` after 5 s.
async fn within_5s(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rebuilds of each cache on a replica, by name.
fn rebuilds(svc: &Services) -> std::collections::HashMap<&'static str, u64> {
    atrium::server::services::control::Caches::EACH
        .iter()
        .zip(svc.cache_rebuilds.iter())
        .map(|((_, name), n)| (*name, n.load(std::sync::atomic::Ordering::Relaxed)))
        .collect()
}

async fn a_change_rebuilds_only_the_cache_it_touched_on_every_replica(app: TestApp) -> TestApp {
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "One Cache").await;
    let (b, _dir) = replica(&app).await;
    let operator = atrium::server::services::Actor::system("test");
    let id = atrium::domain::tenant::TenantId::parse(&s(&t, "id")).expect("id");
    // Let B's watcher settle on the versions as they stand.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (a0, b0) = (rebuilds(&app.svc), rebuilds(&b.services));
    atrium::server::services::tenants::set_audit_retention(&app.svc, &operator, &id, Some(30))
        .await
        .expect("change");
    // B's watcher polls every 100 ms.
    within_5s("B rebuilds the key cache", || {
        rebuilds(&b.services)["keys"] != b0["keys"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (a1, b1) = (rebuilds(&app.svc), rebuilds(&b.services));
    for cache in ["catalog", "policies", "flags", "budgets"] {
        assert_eq!(a1[cache], a0[cache], "A left its {cache} cache alone");
        assert_eq!(b1[cache], b0[cache], "B left its {cache} cache alone");
    }
    assert!(a1["keys"] > a0["keys"], "A rebuilt its key cache");
    // A change that names no cache (an older binary during an upgrade
    // bumps only the control-plane version) rebuilds every cache.
    sqlx::query("UPDATE control_version SET version = version + 1 WHERE id = 1")
        .execute(&app.svc.db.pool)
        .await
        .expect("bump");
    within_5s("B rebuilds everything", || {
        rebuilds(&b.services)["catalog"] != b1["catalog"]
    })
    .await;
    b.shutdown().await.expect("B stops");
    app
}

async fn operators_see_the_replicas_and_their_jobs(app: TestApp) -> TestApp {
    let (b, _dir) = replica(&app).await;
    let token =
        crate::admin_api::token(&app, atrium::domain::admin_token::Scope::PlatformRead, None).await;
    let (status, body) =
        crate::admin_api::call(&app, &token, reqwest::Method::GET, "/replicas", None).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|r| r["live"] == serde_json::json!(true))
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(
        ids.contains(&&*app.svc.replica_id) && ids.contains(&&*b.services.replica_id),
        "both replicas are live: {body}"
    );
    let (status, jobs) =
        crate::admin_api::call(&app, &token, reqwest::Method::GET, "/jobs", None).await;
    assert_eq!(status.as_u16(), 200, "{jobs}");
    assert!(
        jobs.to_string().contains("custom_model_reconciler"),
        "{jobs}"
    );
    // The portal page renders on the server, before any wasm.
    let c = app.admin().await;
    let html = c
        .get(app.url("/operations"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("live replicas"), "{html}");
    assert!(html.contains(&*b.services.replica_id), "B is listed");
    assert!(html.contains("custom_model_reconciler"), "jobs are listed");
    // A tenant user sees none of it.
    let tenant_token = {
        let t = create_tenant(&app, &c, "Not Ops").await;
        let id = atrium::domain::tenant::TenantId::parse(&s(&t, "id")).expect("id");
        crate::admin_api::token(
            &app,
            atrium::domain::admin_token::Scope::TenantRead,
            Some(&id),
        )
        .await
    };
    let (status, _) =
        crate::admin_api::call(&app, &tenant_token, reqwest::Method::GET, "/replicas", None).await;
    assert_eq!(status.as_u16(), 403);
    // A clean stop leaves the registry.
    let gone = b.services.replica_id.clone();
    b.shutdown().await.expect("B stops");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE id = $1")
        .bind(&*gone)
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "B left the registry");
    app
}

/// A replica starting on a data directory whose spool holds audit
/// decisions (left by a killed process) stores each one, and one already
/// stored before the kill is not stored again.
async fn audit_decisions_a_killed_replica_spooled_are_stored_once(app: TestApp) -> TestApp {
    use atrium::domain::audit::{AuditAction, AuditStatus};
    let c = app.admin().await;
    let t = create_tenant(&app, &c, "Spooled Audit").await;
    let line = |id: &str, request: &str| {
        let decision = serde_json::json!({
            "id": id,
            "decision": {
                "action": AuditAction::PolicyRedact,
                "request_id": request,
                "tenant_id": s(&t, "id"),
                "status": AuditStatus::Success,
                "details": {"entities": ["EMAIL"]},
            }
        });
        format!("{decision}\n")
    };
    let count = |request: &'static str| {
        let pool = app.svc.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM audit_events WHERE resource_type = 'request' AND resource_id = $1",
            )
            .bind(request)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    for round in 0..2 {
        // Each round a "killed" replica left the same decision spooled.
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("spool")).expect("spool dir");
        std::fs::write(
            dir.path().join("spool/audit-0000000000000001.spool"),
            // One request, two decisions of one action (prompt and answer).
            line("evt_spooled_1", "req_spooled_1") + &line("evt_spooled_2", "req_spooled_1"),
        )
        .expect("spool");
        let running = replica_in(&app, dir.path()).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while count("req_spooled_1").await < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: replayed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        running.shutdown().await.expect("stops");
        assert_eq!(
            count("req_spooled_1").await,
            2,
            "round {round}: each stored once"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("spool"))
            .expect("spool")
            .collect();
        assert!(left.is_empty(), "the replayed spool is drained: {left:?}");
    }
    app
}

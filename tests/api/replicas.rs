//! Issue 24: replicas share everything a user sees and run each periodic
//! job once. A form posted to one replica shows its outcome (a new key's
//! secret) once on another; job leases let one replica at a time run a
//! job, renew for their holder, pass to another when they lapse or are
//! given back, and count every run.

use std::time::Duration;

use atrium::server::jobs::{self, Job};
use atrium::server::runtime::Running;
use atrium::server::services::Services;

use crate::common::{self, TestApp};
use crate::portal::{create_tenant, s};

on_both_backends!(
    a_flash_posted_to_one_replica_shows_once_on_another,
    each_job_runs_on_one_replica_at_a_time,
);

/// Another replica on the test's database (no Redis: nothing here needs it).
async fn replica(app: &TestApp) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let config = common::config(&app.db_url, dir.path());
    let db = atrium::server::db::Db::connect(&app.db_url)
        .await
        .expect("pool");
    let svc = Services::new(db, config, app.svc.secrets.clone());
    let running = atrium::server::runtime::start(svc).await.expect("replica");
    (running, dir)
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
    let held = jobs::leases(&app.svc).await.expect("leases");
    let reconciler = held
        .iter()
        .find(|(name, ..)| name == "custom_model_reconciler")
        .expect("the reconciler runs under a lease");
    assert!(
        [&*a_svc.replica_id, &*b_svc.replica_id].contains(&reconciler.1.as_str()),
        "{held:?}"
    );
    b.shutdown().await.expect("B stops");
    let held = jobs::leases(&app.svc).await.expect("leases");
    assert!(
        held.iter()
            .all(|(_, holder, ..)| holder != &*b_svc.replica_id),
        "B gave its leases back: {held:?}"
    );
    app
}

/// Three replicas starting at once on a fresh PostgreSQL database: none
/// fails, and exactly one creates the first admin and the demo tenant.
pub fn startup_trials() -> Vec<libtest_mimic::Trial> {
    let name = "replicas::postgres::three_replicas_starting_at_once_make_one_admin";
    let why = common::missing(common::Backend::Postgres, common::Needs::Nothing);
    if let Some(why) = why {
        eprintln!("SKIPPED {name}: needs {why}");
    }
    let skip = why.is_some();
    let trial = libtest_mimic::Trial::test(name, move || {
        common::watchdog::watched(name, || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()?
                .block_on(three_replicas_starting_at_once_make_one_admin());
            Ok(())
        })
    });
    vec![trial.with_ignored_flag(skip)]
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

//! Issue 24's proof, short form: three `atrium serve` processes on one
//! PostgreSQL and one Redis, driven round-robin. Limits and hard budgets
//! hold across the three, a key revoked on one is refused by all within
//! 2 s, a form posted to one shows its secret once on another, each job
//! runs on one replica, and a replica killed with -9 under load and
//! restarted leaves every answered request in the ledger exactly once.
//! A replica that would count limits on its own is refused at start; on
//! SQLite, so is any second replica. (`make bench` has the long form.)

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Backend, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::crash::signal;
use crate::shutdown::{atrium, prepare, run, start};

pub fn trials() -> Vec<libtest_mimic::Trial> {
    vec![
        trial(
            "fleet::postgres::three_replicas_share_limits_keys_flashes_and_jobs_and_lose_nothing",
            common::missing(Backend::Postgres, common::Needs::Redis),
            || Box::pin(three_replicas()),
        ),
        trial(
            "fleet::sqlite::a_second_replica_on_sqlite_is_refused",
            common::missing(Backend::Sqlite, common::Needs::Nothing),
            || Box::pin(a_second_replica_on_sqlite_is_refused()),
        ),
    ]
}

pub(crate) type Body = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// A test that runs `body` on its own runtime, reported as ignored (with
/// the reason printed) when this machine lacks what it needs.
pub(crate) fn trial(
    name: &'static str,
    why: Option<&'static str>,
    body: fn() -> Body,
) -> libtest_mimic::Trial {
    if let Some(why) = why {
        eprintln!("SKIPPED {name}: needs {why}");
    }
    let skip = why.is_some();
    libtest_mimic::Trial::test(name, move || {
        common::watchdog::watched(name, || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()?
                .block_on(body());
            Ok(())
        })
    })
    .with_ignored_flag(skip)
}

/// How one replica is started: its own data directory, the fleet's
/// secret key, Redis when given, short polls so the proof is quick.
fn replica(db: &str, root: &Path, i: usize, secret: &str, redis: Option<&str>) -> Command {
    let data = root.join(format!("r{i}"));
    std::fs::create_dir_all(&data).expect("data dir");
    let mut c = atrium(db, &data);
    c.args(["serve"])
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("ATRIUM_SECRET_KEY", secret)
        .env("ATRIUM_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ATRIUM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ATRIUM_CACHE_POLL_MS", "100")
        .env("ATRIUM_RECONCILE_MS", "300")
        .env(
            "ATRIUM_AUDIT_ANCHOR",
            format!("file://{}", data.join("anchor.jsonl").display()),
        )
        .env("ATRIUM_AUDIT_ANCHOR_SECS", "1")
        // Small pools: the suite's other tests share the server's 100
        // connections.
        .env("ATRIUM_DB_POOL_SIZE", "4")
        .env("ATRIUM_TENANT_POOLS", "2")
        .env("ATRIUM_TENANT_POOL_SIZE", "1");
    if let Some(redis) = redis {
        c.env("REDIS_URL", redis);
    }
    c
}

/// Every process a proof starts, killed however the test ends: a failed
/// assertion must not leave replicas holding database connections.
#[derive(Default)]
struct Reaper(Mutex<Vec<u32>>);

impl Reaper {
    fn keep(&self, pid: u32) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
    }

    fn serve(&self, cmd: &mut Command) -> (Child, String) {
        let (child, addr) = start(cmd, "Atrium is running on ");
        self.keep(child.id());
        (child, addr)
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let pids = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// A start that must be refused: its exit status and what it said.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(!out.status.success(), "a refused replica exits non-zero");
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn stop(mut child: Child) {
    signal(child.id(), "-TERM");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "clean stop: {status:?}");
}

fn json_of(cmd: &mut Command) -> Value {
    serde_json::from_str(&run(cmd)).expect("json")
}

/// A tenant with a key, through the CLI; returns the key and the key's id.
fn tenant_and_key(db: &str, dir: &Path, name: &str, rpm: &str) -> (String, String) {
    run(atrium(db, dir).args([
        "tenant",
        "create",
        "--name",
        name,
        "--rpm",
        rpm,
        "--tpm",
        "100000000",
    ]));
    let key = json_of(atrium(db, dir).args(["key", "create", "--tenant", name, "--json"]));
    (
        key["key"].as_str().unwrap_or_default().to_string(),
        key["id"].as_str().unwrap_or_default().to_string(),
    )
}

async fn complete(client: &reqwest::Client, base: &str, key: &str) -> u16 {
    complete_up_to(client, base, key, 64).await
}

/// A completion of at most `max_tokens`: its worst case, what a hard
/// budget holds for it, grows with them.
async fn complete_up_to(client: &reqwest::Client, base: &str, key: &str, max_tokens: u32) -> u16 {
    client
        .post(format!("http://{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "m", "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Statuses of `n` concurrent requests of up to `max_tokens` spread
/// round-robin over `bases`.
async fn burst(bases: &[String], key: &str, n: usize, max_tokens: u32) -> Vec<u16> {
    let client = common::plain_client();
    let calls = (0..n).map(|i| {
        let (client, base, key) = (
            client.clone(),
            bases[i % bases.len()].clone(),
            key.to_string(),
        );
        async move { complete_up_to(&client, &base, &key, max_tokens).await }
    });
    futures::future::join_all(calls).await
}

async fn three_replicas() {
    let reaper = Reaper::default();
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    let db = common::fresh_database(Backend::Postgres, root)
        .await
        .expect("database");
    let redis = common::redis_url().expect("ATRIUM_TEST_REDIS_URL");
    let (mut mock, load_key) = prepare(&db, root);
    reaper.keep(mock.id());
    let secret = std::fs::read_to_string(root.join("secret.key")).expect("secret");
    let (limited, _) = tenant_and_key(&db, root, "Limited", "12");
    let (budgeted, _) = tenant_and_key(&db, root, "Budgeted", "100000");
    run(atrium(&db, root).args([
        "budget",
        "set",
        "--tenant",
        "Budgeted",
        "--hard",
        "--limit-usd",
        "0.01",
    ]));
    let (doomed, doomed_id) = tenant_and_key(&db, root, "Revoked", "100000");
    let token = json_of(atrium(&db, root).args([
        "admin-token",
        "create",
        "--scope",
        "platform:write",
        "--json",
    ]))["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let mut fleet: Vec<(Child, String)> = (0..3)
        .map(|i| reaper.serve(&mut replica(&db, root, i, &secret, Some(&redis))))
        .collect();
    let bases: Vec<String> = fleet.iter().map(|(_, a)| a.clone()).collect();

    // The registry knows the three; a fourth without Redis is refused.
    let listed = json_of(atrium(&db, root).args(["replica", "list", "--json"]));
    let live: Vec<&Value> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["live"] == json!(true) && r["redis"] == json!(true))
        .collect();
    assert_eq!(live.len(), 3, "three live replicas sharing Redis: {listed}");
    let said = refused(&mut replica(&db, root, 3, &secret, None));
    assert!(
        said.contains("REDIS_URL"),
        "refused for lack of Redis: {said}"
    );

    // Limits and hard budgets are exact across the three. A request of up
    // to 2,000 tokens may cost $0.004: about two fit in the $0.01 budget.
    let statuses = burst(&bases, &limited, 36, 64).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, 12, "the three admit exactly the limit: {statuses:?}");
    let statuses = burst(&bases, &budgeted, 30, 2_000).await;
    assert!(statuses.contains(&429), "the budget refuses: {statuses:?}");
    assert!(statuses.contains(&200), "the budget admits: {statuses:?}");

    revoked_on_one_is_refused_by_all(&bases, &doomed, &doomed_id, &token).await;
    flash_crosses_replicas(&bases).await;
    each_job_runs_once(&db, &fleet).await;
    let answered =
        kill_one_under_load(&reaper, &db, root, &secret, &redis, &mut fleet, &load_key).await;
    for (child, _) in fleet {
        stop(child).await;
    }
    let _ = mock.kill();

    let pool = atrium::server::db::Db::connect(&db).await.expect("db");
    let spent: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_events e \
         JOIN tenants t ON t.id = e.tenant_id WHERE t.name = 'Budgeted'",
    )
    .fetch_one(&pool.pool)
    .await
    .expect("spent");
    assert!(
        spent > 0 && spent <= 10_000,
        "spent {spent} of 10,000 micros"
    );
    ledger_holds_each_once(&pool, &answered).await;
    pool.close().await;
    // Every replica anchored its checkpoints; read together, they verify.
    let anchors: Vec<String> = (0..3)
        .map(|i| {
            root.join(format!("r{i}/anchor.jsonl"))
                .display()
                .to_string()
        })
        .collect();
    let mut verify = atrium(&db, root);
    verify.args(["audit", "verify", "--anchor"]).args(&anchors);
    verify.env("ATRIUM_SECRET_KEY", &secret);
    assert!(run(&mut verify).contains("every chain extends"));
    common::drop_database(&db).await;
}

async fn revoked_on_one_is_refused_by_all(bases: &[String], key: &str, id: &str, token: &str) {
    let client = common::plain_client();
    for base in bases {
        assert_eq!(
            complete(&client, base, key).await,
            200,
            "the key works on {base}"
        );
    }
    let res = client
        .delete(format!("http://{}/admin/v1/api-keys/{id}", bases[0]))
        .bearer_auth(token)
        .send()
        .await
        .expect("revoke");
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "revoked on replica 0: {status} {body} ({id})"
    );
    let at = Instant::now();
    for base in &bases[1..] {
        while complete(&client, base, key).await != 401 {
            assert!(
                at.elapsed() < Duration::from_secs(2),
                "{base} still takes the key"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("revoked on one, refused by all after {:?}", at.elapsed());
}

/// A key created by a form posted to replica 0 shows its secret once on
/// replica 1, where the redirect lands.
async fn flash_crosses_replicas(bases: &[String]) {
    let c = common::client();
    let res = c
        .post(format!("http://{}/auth/sign-in", bases[0]))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status().as_u16(), 303);
    let tenants: Value = c
        .post(format!("http://{}/api/tenant_options", bases[0]))
        .header("accept", "application/json")
        .send()
        .await
        .expect("tenants")
        .json()
        .await
        .expect("json");
    let tenant = tenants
        .as_array()
        .and_then(|t| t.iter().find(|t| t[1] == json!("Load")))
        .and_then(|t| t[0].as_str())
        .unwrap_or_else(|| panic!("the Load tenant: {tenants}"))
        .to_string();
    let on_b = format!("http://{}/tenants/{tenant}", bases[1]);
    let res = c
        .post(format!("http://{}/api/create_key", bases[0]))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", &on_b)
        .form(&[
            ("tenant_id", tenant.as_str()),
            ("name", "fleet"),
            ("expires_in_days", ""),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 302);
    let page = |c: reqwest::Client, url: String| async move {
        c.get(url)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
    };
    let first = page(c.clone(), on_b.clone()).await;
    assert!(
        first.contains("data-testid=\"new-key\""),
        "B shows the new key once"
    );
    let again = page(c.clone(), on_b).await;
    assert!(!again.contains("data-testid=\"new-key\""), "and only once");
}

/// Over a few seconds, the reconciler (every 300 ms) runs about as often
/// as one replica would run it, not three times as often, and always on
/// one holder at a time.
async fn each_job_runs_once(db: &str, fleet: &[(Child, String)]) {
    let pool = atrium::server::db::Db::connect(db).await.expect("db");
    let runs = || async {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT name, runs FROM job_leases")
            .fetch_all(&pool.pool)
            .await
            .expect("runs");
        rows.into_iter()
            .collect::<std::collections::HashMap<String, i64>>()
    };
    let (before, at) = (runs().await, Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = runs().await;
    let elapsed = at.elapsed().as_millis() as i64;
    // The reconciler runs every 300 ms, checkpoints every second: one
    // replica's share, not three times it.
    for (job, every_ms) in [
        ("custom_model_reconciler", 300),
        ("audit_checkpoints", 1000),
    ] {
        let ran = after.get(job).copied().unwrap_or(0) - before.get(job).copied().unwrap_or(0);
        let once = elapsed / every_ms;
        eprintln!(
            "{job}: {ran} runs in {elapsed} ms across {} replicas (one replica: about {once})",
            fleet.len()
        );
        assert!(
            ran >= 1 && ran <= once + 2,
            "{job}: {ran} runs, one replica at a time runs it"
        );
    }
    let held: Vec<(String, String)> = sqlx::query_as("SELECT name, holder FROM job_leases")
        .fetch_all(&pool.pool)
        .await
        .expect("leases");
    let registered: Vec<String> = sqlx::query_scalar("SELECT id FROM replicas")
        .fetch_all(&pool.pool)
        .await
        .expect("replicas");
    for (job, holder) in &held {
        assert!(
            registered.contains(holder),
            "{job} is held by a registered replica"
        );
    }
    pool.close().await;
}

/// Load round-robin over the fleet; replica 1 is killed with -9 and
/// restarted on its data directory. The ids of requests answered 200.
async fn kill_one_under_load(
    reaper: &Reaper,
    db: &str,
    root: &Path,
    secret: &str,
    redis: &str,
    fleet: &mut [(Child, String)],
    key: &str,
) -> Vec<String> {
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let halt = Arc::new(AtomicBool::new(false));
    let bases: Vec<String> = fleet.iter().map(|(_, a)| a.clone()).collect();
    let bases = Arc::new(Mutex::new(bases));
    let workers: Vec<_> = (0..12)
        .map(|w| crate::crash::load_worker(w, &bases, key, &answered, &halt))
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    signal(fleet[1].0.id(), "-KILL");
    let _ = fleet[1].0.wait();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Restarted on its own data directory, it replays its spool and
    // takes its share of the load again.
    let (child, addr) = reaper.serve(&mut replica(db, root, 1, secret, Some(redis)));
    bases.lock().expect("bases")[1] = addr.clone();
    fleet[1] = (child, addr);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    halt.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.await;
    }
    let answered = answered.lock().expect("ids").clone();
    assert!(
        answered.len() > 50,
        "load reached the fleet ({})",
        answered.len()
    );
    answered
}

async fn ledger_holds_each_once(pool: &atrium::server::db::Db, answered: &[String]) {
    let stored: Vec<String> = sqlx::query_scalar("SELECT request_id FROM usage_events")
        .fetch_all(&pool.pool)
        .await
        .expect("ledger");
    let distinct: HashSet<&String> = stored.iter().collect();
    let lost = answered.iter().filter(|id| !distinct.contains(id)).count();
    eprintln!(
        "three replicas, one killed: answered {}, ledger {}, lost {lost}, duplicated {}",
        answered.len(),
        stored.len(),
        stored.len() - distinct.len()
    );
    assert_eq!(lost, 0, "every answered request is billed");
    assert_eq!(stored.len(), distinct.len(), "none is billed twice");
}

async fn a_second_replica_on_sqlite_is_refused() {
    let reaper = Reaper::default();
    let dir = tempfile::tempdir().expect("dir");
    let db = common::fresh_database(Backend::Sqlite, dir.path())
        .await
        .expect("database");
    let secret = "ab".repeat(32);
    let (first, _) = reaper.serve(&mut replica(&db, dir.path(), 0, &secret, None));
    let said = refused(&mut replica(&db, dir.path(), 1, &secret, None));
    assert!(said.contains("SQLite"), "refused on SQLite: {said}");
    // The same data directory is refused too, whatever the database.
    let same_dir: PathBuf = dir.path().join("r0");
    let mut again = atrium(&db, &same_dir);
    again
        .args(["serve"])
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("ATRIUM_SECRET_KEY", &secret);
    let said = refused(&mut again);
    assert!(said.contains("data directory"), "{said}");
    stop(first).await;
    // Once the first has stopped, a replica starts again.
    let (second, _) = reaper.serve(&mut replica(&db, dir.path(), 1, &secret, None));
    stop(second).await;
}

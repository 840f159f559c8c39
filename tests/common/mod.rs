//! Test harness: the real server on port 0, on a fresh database per test,
//! SQLite always and PostgreSQL when ATRIUM_TEST_POSTGRES_URL is set. A test
//! that cannot run here is reported as ignored (skipped) by the runner,
//! never as passed.
#![allow(dead_code)]

pub mod watchdog;

use std::future::Future;

use libtest_mimic::{Failed, Trial};

use atrium::server::config::Config;
use atrium::server::runtime::{self as serve, Running};
use atrium::server::services::Services;
use clap::Parser;
use reqwest::redirect::Policy;
use sqlx::Executor;

pub const ADMIN_EMAIL: &str = "admin@test.local";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub db_url: String,
    pub running: Running,
    pub svc: Services,
    _dir: tempfile::TempDir,
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
}

pub const METRICS_TOKEN: &str = "test-metrics-token";

/// A config as the binary would parse it, with test overrides.
pub fn config(db_url: &str, data_dir: &std::path::Path) -> Config {
    let mut c = Args::parse_from(["atrium"]).config;
    c.database_url = Some(db_url.to_string());
    c.data_dir = data_dir.to_path_buf();
    c.addr = "127.0.0.1:0".parse().expect("addr");
    c.admin_email = Some(ADMIN_EMAIL.into());
    c.admin_password = Some(ADMIN_PASSWORD.into());
    c.no_demo = true;
    c.cache_poll_ms = 100;
    // Engines that restart are repaired well inside the tests' 10 s.
    c.reconcile_ms = 500;
    c.adapter_roots = adapter_roots();
    c.metrics_token = Some(METRICS_TOKEN.into());
    // Tests opt in to Redis explicitly (ATRIUM_TEST_REDIS_URL), never by accident.
    c.redis_url = None;
    c.demo_upstream = None;
    c
}

/// Where tests keep adapters: the fixtures, and temporary directories.
pub fn adapter_roots() -> Vec<std::path::PathBuf> {
    vec![
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")),
        std::env::temp_dir(),
    ]
}

pub fn redis_url() -> Option<String> {
    std::env::var("ATRIUM_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

pub fn postgres_url() -> Option<String> {
    std::env::var("ATRIUM_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A new, empty database for one test.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("atrium.db").display())),
        Backend::Postgres => {
            let admin_url = postgres_url()?;
            let name = format!("atrium_test_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::PgPool::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            pool.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            pool.close().await;
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            Some(format!("{base}/{name}"))
        }
    }
}

pub async fn drop_database(db_url: &str) {
    let (Some(admin_url), Some((_, name))) = (postgres_url(), db_url.rsplit_once('/')) else {
        return;
    };
    if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
        // Database-per-tenant stores left by a failed test carry the
        // main database's name (first 20 characters) as their prefix.
        let prefix: String = name.chars().take(20).collect();
        let tenant_dbs: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
                .bind(format!("{prefix}\\_t\\_%"))
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        for db in tenant_dbs.iter().map(String::as_str).chain([name]) {
            let _ = pool
                .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                .await;
        }
        pool.close().await;
    }
}

/// A change to the test config, for the few tests that need one.
pub type Tweak = fn(&mut Config);

pub async fn spawn(backend: Backend, tweak: Tweak) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = fresh_database(backend, dir.path()).await?;
    let mut config = config(&db_url, dir.path());
    tweak(&mut config);
    let svc = serve::open(config).await.expect("open database");
    atrium::server::services::bootstrap::ensure_first_admin(&svc)
        .await
        .expect("first admin");
    let running = serve::start(svc.clone()).await.expect("start server");
    Some(TestApp {
        base: format!("http://{}", running.addr),
        db_url,
        running,
        svc,
        _dir: dir,
    })
}

/// What a test needs beyond the database it runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    Redis,
}

/// Why a test cannot run on this machine, if it cannot. With
/// `ATRIUM_TEST_REQUIRE_POSTGRES=1` or `ATRIUM_TEST_REQUIRE_REDIS=1` (CI) a
/// missing PostgreSQL or Redis is a failure, not a skip.
pub fn missing(backend: Backend, needs: Needs) -> Option<&'static str> {
    let require_pg = std::env::var("ATRIUM_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    if matches!(backend, Backend::Postgres) && postgres_url().is_none() && !require_pg {
        return Some("PostgreSQL: set ATRIUM_TEST_POSTGRES_URL");
    }
    let require_redis = std::env::var("ATRIUM_TEST_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    if needs == Needs::Redis && redis_url().is_none() && !require_redis {
        return Some("Redis: set ATRIUM_TEST_REDIS_URL");
    }
    None
}

/// Drops a test's PostgreSQL database when the test ends, however it ends:
/// a failed assertion unwinds through this guard too.
struct DatabaseGuard(Option<String>);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let Some(url) = self.0.take() else { return };
        let dropped = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&url));
            }
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop a test database");
        }
    }
}

/// Runs one test body on its own runtime and server; the server stops and
/// the database is dropped whether the body passes or panics.
fn run<F, Fut>(backend: Backend, tweak: Tweak, body: F) -> Result<(), Failed>
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let app = spawn(backend, tweak)
            .await
            .ok_or("PostgreSQL is required here but ATRIUM_TEST_POSTGRES_URL is unset")?;
        let _guard =
            DatabaseGuard(matches!(backend, Backend::Postgres).then(|| app.db_url.clone()));
        let app = body(app).await;
        app.running
            .shutdown()
            .await
            .map_err(|e| format!("shutdown: {e}"))?;
        Ok::<(), Failed>(())
    })
}

/// One body as two trials, `module::sqlite::name` and `module::postgres::name`.
pub fn both<F, Fut>(module: &str, name: &str, needs: Needs, body: F) -> [Trial; 2]
where
    F: FnOnce(TestApp) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = TestApp>,
{
    both_configured(module, name, needs, |_| {}, body)
}

/// As [`both`], on a server whose config `tweak` changed first.
pub fn both_configured<F, Fut>(
    module: &str,
    name: &str,
    needs: Needs,
    tweak: Tweak,
    body: F,
) -> [Trial; 2]
where
    F: FnOnce(TestApp) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = TestApp>,
{
    [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")].map(|(backend, label)| {
        let skip = missing(backend, needs);
        if let Some(why) = skip {
            eprintln!("SKIPPED {module}::{label}::{name}: needs {why}");
        }
        let full = format!("{module}::{label}::{name}");
        Trial::test(full.clone(), move || {
            watchdog::watched(&full, || run(backend, tweak, body))
        })
        .with_ignored_flag(skip.is_some())
    })
}

/// Declares `pub fn trials()` for the listed test bodies, each on SQLite
/// and PostgreSQL; bodies after `redis:` also need Redis.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)? $(; redis: $($redis:ident),* $(,)?)?) => {
        pub fn trials() -> Vec<libtest_mimic::Trial> {
            use $crate::common::{both, Needs};
            let module = module_path!().rsplit("::").next().unwrap_or("api");
            let mut out = Vec::new();
            $(out.extend(both(module, stringify!($name), Needs::Nothing, $name));)*
            $($(out.extend(both(module, stringify!($redis), Needs::Redis, $redis));)*)?
            out
        }
    };
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// No test request takes this long: one that does fails where it was
/// made, instead of hanging the run.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An API client (no cookies) under the same time limit.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `/metrics` as the scraper reads it, with the token.
    pub async fn metrics(&self) -> String {
        plain_client()
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Signs in through the login form; returns the redirect target.
    pub async fn sign_in(&self, client: &reqwest::Client, email: &str, password: &str) -> String {
        let res = client
            .post(self.url("/auth/sign-in"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("sign-in request");
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if status != 303 {
            let body = res.text().await.unwrap_or_default();
            panic!("sign-in answers with a redirect, not {status}: {body}");
        }
        location
    }

    pub async fn admin(&self) -> reqwest::Client {
        let c = client();
        assert_eq!(self.sign_in(&c, ADMIN_EMAIL, ADMIN_PASSWORD).await, "/");
        c
    }

    /// One OpenAI-dialect completion request with `key`, as a client sends it.
    pub async fn chat(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        plain_client()
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// As `chat`, answered 200: the body's text.
    pub async fn chat_ok(&self, key: &str, body: &serde_json::Value) -> String {
        let res = self.chat(key, body).await;
        assert_eq!(res.status().as_u16(), 200);
        res.text().await.expect("body")
    }

    /// Calls a server function the way an ActionForm does.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let res = client
            .post(self.url(&format!("/api/{endpoint}")))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .expect("server fn request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    pub async fn audit_actions(&self) -> Vec<(String, String)> {
        sqlx::query_as("SELECT action, status FROM audit_events ORDER BY seq")
            .fetch_all(&self.svc.db.pool)
            .await
            .expect("audit rows")
    }
}

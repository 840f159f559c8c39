//! Tenant data isolation on SQLite and PostgreSQL: stores at every level are
//! provisioned, written through the gateway, read through reports, moved to
//! every other level (also while writes go on), and erased, with the
//! physical artefacts checked at each step; tenants never see each other's
//! rows; and PostgreSQL's row level security is really on.

use crate::common;
use atrium::domain::tenant::TenantId;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use atrium::domain::catalog::ProviderKind;
use atrium::domain::pricing::Price;
use atrium::domain::role::Role;
use atrium::domain::tenant::{IsolationLevel, TenantSettings};
use atrium::domain::usage::UsageEvent;
use atrium::server::db::tenant_store::Location;
use atrium::server::db::Backend;
use atrium::server::devtools::mock_upstream::{self, MockOptions};
use atrium::server::services::catalog::{self, Credential, NewModel, NewProvider};
use atrium::server::services::{api_keys, audit, tenant_data, tenants, usage, Actor, Services};
use common::TestApp;
use serde_json::json;

on_both_backends!(
    every_level_provisions_moves_and_erases,
    moves_lose_nothing_under_concurrent_writes,
    tenants_never_see_each_others_rows,
    postgres_row_level_security_is_forced,
    failed_provisioning_leaves_nothing_behind,
);

fn admin() -> Actor {
    Actor::system("test")
}

async fn create_tenant(svc: &Services, name: &str, level: IsolationLevel) -> TenantId {
    let settings = TenantSettings::new(name, level, "any", 100_000, 100_000_000).expect("settings");
    tenants::create(svc, &admin(), settings)
        .await
        .expect("create tenant")
        .id
}

async fn location(svc: &Services, tenant_id: &str) -> Location {
    svc.stores
        .placement(tenant_id)
        .await
        .expect("placement")
        .expect("tenant has a store")
        .location
}

/// Whether the schema, database, table or file behind `loc` exists.
async fn artefact_exists(app: &TestApp, loc: &Location) -> bool {
    let pool = &app.svc.db.pool;
    let count = |sql: &'static str, name: String| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(name)
            .fetch_one(pool)
            .await
            .expect("catalog query")
            > 0
    };
    match (loc, app.svc.db.backend) {
        (Location::Shared, _) => true,
        (Location::Namespace(n), Backend::Postgres) => {
            count(
                "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1",
                n.to_string(),
            )
            .await
        }
        (Location::Namespace(n), Backend::Sqlite) => {
            count(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
                format!("{n}_usage_events"),
            )
            .await
        }
        (Location::Database(n), Backend::Postgres) => {
            count(
                "SELECT COUNT(*) FROM pg_database WHERE datname = $1",
                n.to_string(),
            )
            .await
        }
        (Location::Database(n), Backend::Sqlite) => sqlite_dir(app).join(n.as_str()).exists(),
    }
}

fn sqlite_dir(app: &TestApp) -> std::path::PathBuf {
    let path = app.db_url.trim_start_matches("sqlite://");
    std::path::Path::new(path)
        .parent()
        .expect("data dir")
        .to_path_buf()
}

/// Rows of `tenant_id` in the shared table, read past RLS as the test's superuser
/// (PostgreSQL) or directly (SQLite).
async fn shared_rows(app: &TestApp, tenant_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM usage_events WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count shared rows")
}

async fn requests_reported(svc: &Services, tenant_id: &TenantId) -> i64 {
    usage::report(svc, &admin(), tenant_id, None, None)
        .await
        .expect("report")
        .totals
        .requests
}

struct Gateway {
    key_of: HashMap<TenantId, String>,
}

/// A mock provider and model, and a key for each tenant.
async fn gateway(app: &TestApp, tenant_ids: &[TenantId]) -> Gateway {
    let opts = MockOptions {
        addr: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let addr = mock_upstream::spawn(opts).await.expect("mock").0;
    let provider = NewProvider {
        name: "mock".into(),
        kind: ProviderKind::Anthropic,
        base_url: format!("http://{addr}"),
        region: "any".into(),
        timeout_ms: 5_000,
        credential: Credential::Stored("sk-mock".into()),
    };
    catalog::add_provider(&app.svc, &admin(), provider)
        .await
        .expect("provider");
    let model = NewModel {
        name: "claude-mock".into(),
        provider: "mock".into(),
        upstream_model: Some("claude-upstream".into()),
        price: Price::default(),
        priority: 0,
    };
    catalog::add_model(&app.svc, &admin(), model)
        .await
        .expect("model");
    let mut key_of = HashMap::new();
    for t in tenant_ids {
        let k = api_keys::create(&app.svc, &admin(), t, "k", None)
            .await
            .expect("key");
        key_of.insert(t.clone(), k.key);
    }
    Gateway { key_of }
}

async fn complete(app: &TestApp, gw: &Gateway, tenant_id: &str, n: usize) {
    let client = crate::common::plain_client();
    for _ in 0..n {
        let res = client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &gw.key_of[tenant_id])
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "claude-mock", "max_tokens": 16,
                          "messages": [{"role": "user", "content": "hello"}]}))
            .send()
            .await
            .expect("request");
        assert_eq!(
            res.status().as_u16(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
    }
    app.running.gateway.ledger.flush().await;
}

fn next_level(l: IsolationLevel) -> IsolationLevel {
    let all = IsolationLevel::ALL;
    let i = all.iter().position(|x| *x == l).expect("level");
    all[(i + 1) % all.len()]
}

async fn every_level_provisions_moves_and_erases(app: TestApp) -> TestApp {
    let mut ids = Vec::new();
    for level in IsolationLevel::ALL {
        ids.push(create_tenant(&app.svc, &format!("Lifecycle {}", level.as_str()), level).await);
    }
    let gw = gateway(&app, &ids).await;
    for (i, (tenant_id, start)) in ids.iter().zip(IsolationLevel::ALL).enumerate() {
        let loc = location(&app.svc, tenant_id).await;
        assert_eq!(loc.level(), start);
        assert!(artefact_exists(&app, &loc).await, "{loc} provisioned");
        let n = 3 + i;
        complete(&app, &gw, tenant_id, n).await;
        assert_eq!(requests_reported(&app.svc, tenant_id).await, n as i64);
        let in_shared = if start == IsolationLevel::RowLevel {
            n as i64
        } else {
            0
        };
        assert_eq!(
            shared_rows(&app, tenant_id).await,
            in_shared,
            "shared table at {start}"
        );

        // Around the cycle: each move reaches one of the other two levels.
        let mut level = start;
        for _ in 0..3 {
            let to = next_level(level);
            let before = location(&app.svc, tenant_id).await;
            let report = tenant_data::set_isolation(&app.svc, &admin(), tenant_id, to)
                .await
                .unwrap_or_else(|e| panic!("move {level} -> {to}: {e}"));
            assert_eq!(report.rows_copied, n as u64);
            let after = location(&app.svc, tenant_id).await;
            assert_eq!(after.level(), to);
            assert!(
                artefact_exists(&app, &after).await,
                "{after} exists after the move"
            );
            if before != Location::Shared {
                assert!(
                    !artefact_exists(&app, &before).await,
                    "{before} removed after the move"
                );
            }
            let in_shared = if to == IsolationLevel::RowLevel {
                n as i64
            } else {
                0
            };
            assert_eq!(
                shared_rows(&app, tenant_id).await,
                in_shared,
                "shared rows at {to}"
            );
            assert_eq!(
                requests_reported(&app.svc, tenant_id).await,
                n as i64,
                "report at {to}"
            );
            let t = tenants::get(&app.svc, &admin(), tenant_id)
                .await
                .expect("tenant");
            assert_eq!(t.isolation, to);
            let data = tenant_data::data(&app.svc, &admin(), tenant_id)
                .await
                .expect("data");
            assert_eq!(data.rows[0], ("usage_events".to_string(), n as i64));
            // The hourly rollups moved with the events.
            assert!(
                matches!(data.rows.get(1), Some((t, c)) if t == "usage_hourly" && *c > 0),
                "{:?}",
                data.rows
            );
            level = to;
        }
        // Still writable where it ended up.
        complete(&app, &gw, tenant_id, 1).await;
        assert_eq!(requests_reported(&app.svc, tenant_id).await, n as i64 + 1);

        let loc = location(&app.svc, tenant_id).await;
        let t = tenants::get(&app.svc, &admin(), tenant_id)
            .await
            .expect("tenant");
        tenants::delete(&app.svc, &admin(), tenant_id, &t.name)
            .await
            .expect("delete");
        if loc != Location::Shared {
            assert!(!artefact_exists(&app, &loc).await, "{loc} erased");
        }
        assert_eq!(shared_rows(&app, tenant_id).await, 0);
        assert!(app
            .svc
            .stores
            .placement(tenant_id)
            .await
            .expect("placement")
            .is_none());
        let filter = atrium::domain::audit::AuditQuery {
            tenant_id: tenant_id.to_string(),
            action: "tenant.erase".into(),
            ..Default::default()
        };
        let erased = audit::search(&app.svc, &admin(), &filter, Default::default())
            .await
            .expect("audit");
        assert_eq!(erased.total, 1, "erasure is audited");
    }
    app
}

pub(crate) fn event(tenant_id: &TenantId, n: u64) -> UsageEvent {
    UsageEvent {
        request_id: format!("{tenant_id}-{n:08}"),
        tenant_id: tenant_id.clone(),
        api_key_id: None,
        kind: Default::default(),
        units: 0,
        model: format!("model-{}", n % 3),
        provider: None,
        dialect: Some(atrium::domain::completion::Dialect::Anthropic),
        stream: false,
        input_tokens: 10,
        output_tokens: 5,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost_micros: 7,
        latency_ms: 1,
        status: 200,
        error_type: None,
        policy_action: atrium::domain::policy::Action::Allow,
        classification: atrium::domain::pii::Classification::Public,
        price_from: None,
        pii_classes: Default::default(),
        provider_region: None,
        end_user: None,
        log: None,
        created_at: 1_700_000_000_000 + n as i64,
    }
}

/// Writers keep going through the service layer while the data moves around
/// every level; afterwards every written event is in the final store once.
async fn moves_lose_nothing_under_concurrent_writes(app: TestApp) -> TestApp {
    let tenant_id = create_tenant(&app.svc, "Busy", IsolationLevel::RowLevel).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (svc, stop, tenant_id) = (app.svc.clone(), stop.clone(), tenant_id.clone());
        tokio::spawn(async move {
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<UsageEvent> = (written..written + 25)
                    .map(|n| event(&tenant_id, n))
                    .collect();
                usage::insert_batch(&svc, &batch)
                    .await
                    .expect("write during move");
                written += 25;
            }
            written
        })
    };
    let mut level = IsolationLevel::RowLevel;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        level = next_level(level);
        tenant_data::set_isolation(&app.svc, &admin(), &tenant_id, level)
            .await
            .unwrap_or_else(|e| panic!("move to {level}: {e}"));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(written > 0);
    assert_eq!(
        requests_reported(&app.svc, &tenant_id).await,
        written as i64
    );
    assert_eq!(
        shared_rows(&app, &tenant_id).await,
        written as i64,
        "back at row level"
    );
    app
}

/// A small deterministic generator: the seed is printed so a failure replays.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn tenants_never_see_each_others_rows(app: TestApp) -> TestApp {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("cross-tenant seed {seed}");
    let mut rng = Rng(seed);
    let mut ids = Vec::new();
    for i in 0..9 {
        let level = IsolationLevel::ALL[(rng.next() % 3) as usize];
        ids.push(create_tenant(&app.svc, &format!("Mixed {i}"), level).await);
    }
    let mut tasks = Vec::new();
    for (i, tenant_id) in ids.iter().enumerate() {
        let (svc, tenant_id) = (app.svc.clone(), tenant_id.clone());
        let batches = 2 + rng.next() % 5;
        let per = 1 + rng.next() % 40;
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            for _ in 0..batches {
                let batch: Vec<UsageEvent> = (n..n + per).map(|k| event(&tenant_id, k)).collect();
                usage::insert_batch(&svc, &batch).await.expect("write");
                n += per;
                // Read while others write: never a foreign row.
                let store = svc.stores.open(&tenant_id).await.expect("store");
                let rows = store.usage_page("", None, 10_000).await.expect("page");
                assert!(
                    rows.iter().all(|r| r.tenant_id == tenant_id),
                    "tenant {i} saw a foreign row"
                );
                assert!(rows.len() as u64 >= n);
            }
            (tenant_id, n)
        }));
    }
    // One batch mixing every tenant, as the ledger writes them.
    let mixed: Vec<UsageEvent> = ids.iter().map(|t| event(t, 1_000_000)).collect();
    usage::insert_batch(&app.svc, &mixed)
        .await
        .expect("mixed batch");
    for task in tasks {
        let (tenant_id, n) = task.await.expect("task");
        let report = usage::report(&app.svc, &admin(), &tenant_id, None, None)
            .await
            .expect("report");
        assert_eq!(report.totals.requests, n as i64 + 1);
        assert_eq!(report.totals.input_tokens, 10 * (n as i64 + 1));
        let store = app.svc.stores.open(&tenant_id).await.expect("store");
        let rows = store.usage_page("", None, 100_000).await.expect("page");
        assert!(rows.iter().all(|r| r.tenant_id == tenant_id));
    }
    // A tenant user of one tenant cannot read another's report.
    let viewer = Actor {
        user_id: Some("viewer".into()),
        label: "viewer@test".into(),
        role: Role::TenantViewer,
        tenant_id: Some(ids[0].clone()),
        client_ip: None,
    };
    let denied = usage::report(&app.svc, &viewer, &ids[1], None, None).await;
    assert!(denied.is_err(), "a tenant user read another tenant's usage");
    app
}

async fn postgres_row_level_security_is_forced(app: TestApp) -> TestApp {
    if app.svc.db.backend != Backend::Postgres {
        return app;
    }
    let tenant_id = create_tenant(&app.svc, "Fenced", IsolationLevel::RowLevel).await;
    usage::insert_batch(&app.svc, &[event(&tenant_id, 1), event(&tenant_id, 2)])
        .await
        .expect("write");
    let pool = &app.svc.db.pool;
    let flags: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::TEXT, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relname IN ('usage_events')",
    )
    .fetch_all(pool)
    .await
    .expect("pg_class");
    assert_eq!(flags.len(), 1);
    for (table, rls, forced) in flags {
        assert!(rls && forced, "{table}: rls {rls}, forced {forced}");
    }
    let (superuser, bypass): (bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'atrium_tenant'",
    )
    .fetch_one(pool)
    .await
    .expect("role");
    assert!(!superuser && !bypass);
    // The test connects as a superuser; as the tenant role with no tenant set,
    // the table reads empty, and with another tenant set it reads empty too.
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SET LOCAL ROLE atrium_tenant")
        .execute(&mut *tx)
        .await
        .expect("role");
    let unscoped: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(unscoped, 0, "no tenant set: fail closed");
    sqlx::query("SELECT set_config('atrium.tenant_id', 'someone-else', true)")
        .execute(&mut *tx)
        .await
        .expect("set");
    let other: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(other, 0);
    let forged = sqlx::query(
        "INSERT INTO usage_events (request_id, tenant_id, model, dialect, stream, input_tokens, \
         output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, latency_ms, status, \
         created_at) VALUES ('x', $1, 'm', 'a', 0, 0, 0, 0, 0, 0, 0, 200, 0)",
    )
    .bind(&tenant_id)
    .execute(&mut *tx)
    .await;
    assert!(
        forged.is_err(),
        "writing another tenant's row must be refused"
    );
    drop(tx);
    assert_eq!(shared_rows(&app, &tenant_id).await, 2);
    app
}

/// A tenant whose store cannot be made is not created, and leaves no artefact.
async fn failed_provisioning_leaves_nothing_behind(app: TestApp) -> TestApp {
    let first = create_tenant(&app.svc, "Taken", IsolationLevel::SchemaPerTenant).await;
    let settings = TenantSettings::new("taken", IsolationLevel::DatabasePerTenant, "any", 10, 10)
        .expect("settings");
    let dup = tenants::create(&app.svc, &admin(), settings).await;
    assert!(dup.is_err(), "duplicate names are refused");
    let stores: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenant_stores")
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count");
    assert_eq!(stores, 1, "only the first tenant has a store");
    match app.svc.db.backend {
        Backend::Sqlite => {
            let dir = sqlite_dir(&app).join("tenants");
            let files = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
            assert_eq!(files, 0, "no tenant file left behind");
        }
        Backend::Postgres => {
            let name = app.db_url.rsplit('/').next().unwrap_or_default();
            let prefix: String = name.chars().take(20).collect();
            let dbs: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname LIKE $1")
                    .bind(format!("{prefix}\\_t\\_%"))
                    .fetch_one(&app.svc.db.pool)
                    .await
                    .expect("count");
            assert_eq!(dbs, 0, "no tenant database left behind");
        }
    }
    assert!(artefact_exists(&app, &location(&app.svc, &first).await).await);
    app
}

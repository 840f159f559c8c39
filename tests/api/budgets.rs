//! Budgets over HTTP on both backends: a hard budget never overspends under
//! 64 concurrent clients (in process, and across two replicas sharing
//! Redis), refuses in both dialects with `budget_exceeded`, and gives back
//! unused reservations; tenant users see only their own budgets. Soft
//! budgets' alerts are in `budget_webhooks.rs`.

use atrium::domain::budget::{worst_case, Enforcement, Period};
use atrium::domain::completion::Exposure;
use atrium::domain::pricing::{parse_usd, Price};
use atrium::domain::role::Role;
use atrium::domain::tenant::TenantId;
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::budgets::{self, BudgetSpec};
use atrium::server::services::{Actor, ServiceError};
use serde_json::{json, Value};

use crate::common::{self, TestApp};
use crate::gateway::{setup, tenant_with_key};

on_both_backends!(
    a_hard_budget_never_overspends,
    tenant_users_see_only_their_budgets,
    the_tenant_page_shows_budgets_and_warns;
    redis: replicas_share_one_hard_budget_through_redis,
);

/// The catalog's price for both mock models ($3 / $15 per million).
pub(crate) fn price() -> Price {
    Price {
        input_per_mtok: parse_usd("p", "3").expect("price"),
        output_per_mtok: parse_usd("p", "15").expect("price"),
        ..Default::default()
    }
}

/// A request the mock echoes almost in full: its real cost is about two
/// thirds of its worst case, so held-back reservations matter.
fn body(dialect_openai: bool) -> Value {
    let words = vec!["w"; 60].join(" ");
    let model = if dialect_openai {
        "gpt-mock"
    } else {
        "claude-mock"
    };
    json!({ "model": model, "max_tokens": 64, "messages": [{ "role": "user", "content": words }] })
}

pub(crate) fn worst(dialect_openai: bool) -> i64 {
    let bytes = serde_json::to_vec(&body(dialect_openai))
        .expect("json")
        .len();
    worst_case(
        &price(),
        &Exposure {
            input: bytes as i64,
            output: 64,
            server_tool_uses: 0,
        },
    )
}

pub(crate) async fn hard_budget(app: &TestApp, tenant: &TenantId, limit_micros: i64) {
    let spec = BudgetSpec {
        tenant: tenant.to_string(),
        api_key: None,
        limit_micros,
        period: Period::Month,
        enforcement: Enforcement::Hard,
        webhook_url: None,
    };
    budgets::set(&app.svc, &Actor::system("test"), spec)
        .await
        .expect("budget");
}

/// One request, in the dialect `i` picks; its status and error body.
pub(crate) async fn call(base: &str, key: &str, i: usize) -> (u16, Value) {
    let openai = i % 2 == 1;
    let path = if openai {
        "/v1/chat/completions"
    } else {
        "/v1/messages"
    };
    let r = crate::common::plain_client()
        .post(format!("{base}{path}"))
        .header("x-api-key", key)
        .bearer_auth(key)
        .header("anthropic-version", "2023-06-01")
        .json(&body(openai))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A refusal names the budget in the caller's dialect.
fn assert_refusal(i: usize, body: &Value) {
    let message = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(message.contains("hard budget of"), "{body}");
    if i % 2 == 1 {
        assert_eq!(
            body.pointer("/error/code"),
            Some(&json!("budget_exceeded")),
            "{body}"
        );
        assert_eq!(
            body.pointer("/error/type"),
            Some(&json!("budget_exceeded")),
            "{body}"
        );
    } else {
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(
            body.pointer("/error/type"),
            Some(&json!("budget_exceeded")),
            "{body}"
        );
    }
}

/// 64 clients at once against `bases` (round robin), then one at a time
/// until refused; returns how many were answered.
async fn spend_it_all(bases: &[String], key: &str) -> usize {
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (base, key) = (bases[i % bases.len()].clone(), key.to_string());
            tokio::spawn(async move { (i, call(&base, &key, i).await) })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (i, (status, body)) = t.await.expect("task");
        match status {
            200 => ok += 1,
            429 => {
                assert_refusal(i, &body);
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(ok >= 10, "about ten worst cases fit: {ok} answered");
    assert!(refused > 0, "64 at once cannot all fit");
    // Reservations were given back: what is left still buys requests.
    let mut more = 0;
    for i in 0..100 {
        let (status, body) = call(&bases[i % bases.len()], key, i).await;
        if status == 429 {
            assert_refusal(i, &body);
            break;
        }
        assert_eq!(status, 200, "{body}");
        more += 1;
    }
    assert!(more > 0, "unused reservations were released");
    ok + more
}

pub(crate) async fn spent(app: &TestApp, tenant: &TenantId) -> i64 {
    app.running.gateway.ledger.flush().await;
    let store = app.svc.stores.open(tenant).await.expect("store");
    let days = Period::Month.days(atrium::domain::time::now_millis());
    store
        .spend_by_day(days, None)
        .await
        .expect("spend")
        .into_iter()
        .map(|(_, m)| m)
        .sum()
}

async fn a_hard_budget_never_overspends(app: TestApp) -> TestApp {
    let mock = MockOptions {
        latency_ms: 150,
        ..Default::default()
    };
    setup(&app, mock).await;
    let (tenant, key) = tenant_with_key(&app, "Budgeted", 100_000, "eu-west").await;
    let w = worst(false).max(worst(true));
    let limit = w * 21 / 2;
    hard_budget(&app, &tenant, limit).await;
    let answered = spend_it_all(&[app.url("")], &key).await;
    let spent = spent(&app, &tenant).await;
    assert!(spent <= limit, "spent {spent} of {limit}");
    assert!(
        spent + w > limit,
        "refused only when the worst case no longer fits: {spent} of {limit}"
    );
    let refused: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage_events WHERE error_type = 'budget_exceeded' AND status = 429",
    )
    .fetch_one(&app.svc.db.pool)
    .await
    .expect("count");
    assert!(
        refused > 0 && answered > 10,
        "{refused} refusals in the ledger"
    );
    app
}

/// Two more servers on the test's database, sharing Redis at `redis`.
pub(crate) async fn replicas(
    app: &TestApp,
    redis: &str,
) -> Vec<(atrium::server::runtime::Running, tempfile::TempDir)> {
    let mut out = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = common::config(&app.db_url, dir.path());
        config.redis_url = Some(redis.to_string());
        let db = atrium::server::db::Db::connect(&app.db_url)
            .await
            .expect("pool");
        let svc = atrium::server::services::Services::new(db, config, app.svc.secrets.clone());
        let running = atrium::server::runtime::start(svc).await.expect("replica");
        out.push((running, dir));
    }
    out
}

async fn replicas_share_one_hard_budget_through_redis(app: TestApp) -> TestApp {
    let redis = common::redis_url().expect("ATRIUM_TEST_REDIS_URL");
    setup(
        &app,
        MockOptions {
            latency_ms: 150,
            ..Default::default()
        },
    )
    .await;
    let (tenant, key) = tenant_with_key(&app, "Shared Budget", 100_000, "eu-west").await;
    let w = worst(false).max(worst(true));
    let limit = w * 21 / 2;
    hard_budget(&app, &tenant, limit).await;
    let replicas = replicas(&app, &redis).await;
    let bases: Vec<String> = replicas
        .iter()
        .map(|(r, _)| format!("http://{}", r.addr))
        .collect();
    spend_it_all(&bases, &key).await;
    for (r, _) in replicas {
        r.shutdown().await.expect("replica stops");
    }
    let spent = spent(&app, &tenant).await;
    assert!(spent <= limit, "two replicas spent {spent} of {limit}");
    assert!(spent + w > limit, "{spent} of {limit}");
    app
}

async fn tenant_users_see_only_their_budgets(app: TestApp) -> TestApp {
    let (mine, _) = tenant_with_key(&app, "Mine", 100, "eu-west").await;
    let (theirs, _) = tenant_with_key(&app, "Theirs", 100, "eu-west").await;
    hard_budget(&app, &mine, 5_000_000).await;
    hard_budget(&app, &theirs, 7_000_000).await;
    let viewer = Actor {
        user_id: Some("viewer".into()),
        label: "viewer@mine.test".into(),
        role: Role::TenantViewer,
        tenant_id: Some(mine.clone()),
        client_ip: None,
    };
    let own = budgets::status::of_tenant(&app.svc, &viewer, &mine)
        .await
        .expect("own");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].budget.limit_micros, 5_000_000);
    assert_eq!(own[0].spent_micros, 0);
    let other = budgets::status::of_tenant(&app.svc, &viewer, &theirs).await;
    // Another tenant's objects do not exist for a tenant user (issue 23).
    assert!(matches!(other, Err(ServiceError::NotFound(_))), "{other:?}");
    let spec = BudgetSpec {
        tenant: mine.to_string(),
        api_key: None,
        limit_micros: 1,
        period: Period::Month,
        enforcement: Enforcement::Hard,
        webhook_url: None,
    };
    let set = budgets::set(&app.svc, &viewer, spec).await;
    assert!(
        matches!(set, Err(ServiceError::Forbidden)),
        "viewers cannot set budgets"
    );
    app
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    let r = c.get(app.url(path)).send().await.expect("page");
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.expect("the page's whole body arrives")
}

async fn the_tenant_page_shows_budgets_and_warns(app: TestApp) -> TestApp {
    use crate::portal::create_user;
    setup(&app, MockOptions::default()).await;
    let (tenant, key) = tenant_with_key(&app, "Paged", 100_000, "eu-west").await;
    let admin = app.admin().await;
    let tid = tenant.to_string();
    let form = [
        ("tenant_id", tid.as_str()),
        ("key", ""),
        ("limit", "0.01"),
        ("period", "7d"),
        ("enforcement", "soft"),
        ("webhook", ""),
    ];
    let (status, body) = app.call(&admin, "set_budget", &form).await;
    assert_eq!(status, 200, "{body}");
    let bad = [("limit", "ten"), ("period", "7d")];
    let bad: Vec<_> = form
        .iter()
        .map(|(k, v)| (*k, bad.iter().find(|b| b.0 == *k).map_or(*v, |b| b.1)))
        .collect();
    let (status, body) = app.call(&admin, "set_budget", &bad).await;
    assert_eq!(status, 400, "{body}");
    let path = format!("/tenants/{tid}");
    // Type-erased components mark the end of each text with `<!>` for
    // hydration; the cells' text is what this checks.
    let html = page(&app, &admin, &path).await.replace("<!>", "");
    for part in [
        "<td>whole tenant</td><td>soft</td><td>$0.01</td>",
        "rolling 7 days",
        "Set budget",
    ] {
        assert!(html.contains(part), "the budgets table shows {part:?}");
    }
    assert!(!html.contains("budget-banner"), "nothing spent yet");
    for i in 0..9 {
        assert_eq!(call(&app.url(""), &key, i).await.0, 200);
    }
    app.running.gateway.ledger.flush().await;
    // The 50% and 80% alerts are recorded after the responses, in tasks of
    // their own: the page is read once they are in.
    for _ in 0..200 {
        let alerts = budgets::alerts::list(&app.svc, &Actor::system("test"), &tenant, 10)
            .await
            .expect("alerts");
        if alerts.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    create_user(&app, &admin, "viewer@paged.io", "tenant_viewer", &tid).await;
    let viewer = common::client();
    app.sign_in(&viewer, "viewer@paged.io", "a-long-password-1")
        .await;
    let html = page(&app, &viewer, &path).await;
    assert!(
        html.contains("budget-banner"),
        "80% spent shows a banner: {html}"
    );
    assert!(html.contains("% spent"), "{html}");
    assert!(!html.contains("Set budget"), "viewers get no form");
    let (status, _) = app.call(&viewer, "set_budget", &form).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .call(&viewer, "tenant_budgets", &[("id", tid.as_str())])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["budgets"][0]["spent_micros"].as_i64().unwrap_or(0) >= 8_000,
        "{body}"
    );
    app
}

//! A search of the audit trail by text or resource reads rows no index
//! narrows (the gateway's decisions, which leave PostgreSQL's trigram
//! index): on both backends it is stopped at its timeout and the caller is
//! told to narrow it, in the admin API and on the portal's page, instead of
//! holding a connection for as long as a tenant's trail takes to read.

use atrium::domain::admin_token::Scope;
use atrium::domain::audit::{AuditAction, ExportFormat};
use atrium::server::db::Backend;
use atrium::server::services::audit::{self, Entry};
use atrium::server::services::audit_export;
use atrium::server::services::audit_turns::Lane;
use atrium::server::services::Actor;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use std::time::Duration;

use crate::admin_api::{call, token};
use crate::common::{both, both_configured, Needs, TestApp};
use crate::gateway::tenant_with_key;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut all: Vec<_> = both_configured(
        "audit_search_bounds",
        "a_broad_search_by_text_is_stopped_and_said_so",
        Needs::Nothing,
        |c| c.audit_search_timeout_ms = 10,
        a_broad_search_by_text_is_stopped_and_said_so,
    )
    .into();
    all.extend(both(
        "audit_search_bounds",
        "an_export_reads_in_pages_and_misses_nothing",
        Needs::Nothing,
        an_export_reads_in_pages_and_misses_nothing,
    ));
    all
}

/// Gateway decisions of `tenant`, written straight into the table (a year
/// of a busy tenant's trail would take the gateway too long here).
/// `per_ms` of them share each millisecond.
async fn decisions(app: &TestApp, tenant: &str, n: i64, per_ms: i64) {
    let sql = "INSERT INTO audit_events (id, at, actor, action, resource_type, resource_id, \
               tenant_id, status, details, chain) \
               WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1) \
               SELECT $2 || '-' || n, n / $3, 'gateway', 'policy.redact', 'request', 'req_' || n, \
               $2, 'success', '{\"rules\":[\"r1\"],\"entities\":[\"EMAIL_ADDRESS\"]}', $2 FROM g";
    sqlx::query(sql)
        .bind(n)
        .bind(tenant)
        .bind(per_ms)
        .execute(&app.svc.db.pool)
        .await
        .expect("bulk decisions");
    // As autovacuum would after so many rows: every search now has a
    // timeout, and a plan for the empty table it was would not meet it.
    if app.svc.db.backend == Backend::Postgres {
        sqlx::query("ANALYZE audit_events")
            .execute(&app.svc.db.pool)
            .await
            .expect("analyzed");
    }
}

async fn a_broad_search_by_text_is_stopped_and_said_so(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Searched", 100, "any").await;
    decisions(&app, a.as_str(), 300_000, 1).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let rare = "/audit/events?text=a-word-written-nowhere&limit=5";
    let (s, found) = call(&app, &a_admin, Method::GET, rare, None).await;
    let client = app.admin().await;
    let page = client
        .get(app.url(&format!("/audit?tenant={a}&q=a-word-written-nowhere")))
        .send()
        .await
        .expect("audit page");
    let shown = page.status();
    let page = page.text().await.expect("page");
    let stopped = "took too long: narrow it";
    assert_eq!(s, StatusCode::BAD_REQUEST, "{found}");
    assert!(
        found["detail"]
            .as_str()
            .is_some_and(|d| d.contains(stopped)),
        "{found}"
    );
    assert_eq!(shown, StatusCode::BAD_REQUEST);
    assert!(page.contains(stopped), "the portal says why");
    // A resource is read the same way, and is bounded the same way.
    let unknown = "/audit/events?resource=a-resource-named-nowhere&limit=5";
    let (s, found) = call(&app, &a_admin, Method::GET, unknown, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{found}");
    assert!(found["detail"]
        .as_str()
        .is_some_and(|d| d.contains(stopped)));
    assert!(found.to_string().contains("resource"), "{found}");
    // A stopped search gives its turn back: more in a row are each stopped
    // at once, not queued behind the last.
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let (s, found) = call(&app, &a_admin, Method::GET, rare, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{found}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Pages end at the newest 10,000 matches.
    let deep = client
        .get(app.url(&format!("/audit?tenant={a}&page=100000")))
        .send()
        .await
        .expect("audit page");
    assert_eq!(deep.status(), StatusCode::BAD_REQUEST);
    assert!(deep
        .text()
        .await
        .is_ok_and(|t| t.contains("narrow the search with dates")));
    // Searches by indexed filters find rows within the same timeout.
    let narrow = "/audit/events?action=policy.redact&limit=2";
    let (s, found) = call(&app, &a_admin, Method::GET, narrow, None).await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(2), "{found}");
    // The connection given back after a stopped search serves the next.
    let (s, _) = call(&app, &a_admin, Method::GET, "/audit/events?limit=1", None).await;
    assert_eq!(s, StatusCode::OK);
    app
}

/// An export reads the trail in pages by `(at, seq)`: every event once, in
/// order, across pages whose edges fall inside a millisecond.
async fn an_export_reads_in_pages_and_misses_nothing(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Exported", 100, "any").await;
    decisions(&app, a.as_str(), 1_234, 7).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let url = format!("/admin/v1/audit/export?tenant_id={a}&format=json&to=1970-01-02");
    let export = reqwest::Client::new()
        .get(app.url(&url))
        .bearer_auth(&a_admin)
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), StatusCode::OK);
    let events: Vec<serde_json::Value> = export.json().await.expect("a JSON list");
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    let expected: Vec<String> = (1..=1_234).map(|n| format!("{a}-{n}")).collect();
    assert_eq!(ids, expected, "every event once, oldest first");
    // Events stored after an export began are not in it, though its later
    // pages are read after them.
    let stored = |app: &TestApp| {
        let pool = app.svc.db.pool.clone();
        let a = a.to_string();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1")
                .bind(a)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    let before = stored(&app).await;
    let actor = Actor::system("export test");
    let mut rows = audit_export::export(&app.svc, &actor, Some(&a), "", "", ExportFormat::Csv)
        .await
        .expect("export");
    let mut lines = Vec::new();
    while lines.len() < 600 {
        lines.push(rows.next().await.expect("a line").expect("read"));
    }
    for _ in 0..3 {
        let later = Entry::success(AuditAction::AuditExport, "tenant", a.as_str()).tenant(&a);
        audit::append(&app.svc, &actor, later)
            .await
            .expect("appended");
    }
    while let Some(line) = rows.next().await {
        lines.push(line.expect("read"));
    }
    // The header, every event stored before, and the export's own event.
    assert_eq!(lines.len() as i64, 1 + before + 1);
    assert_eq!(stored(&app).await, before + 1 + 3);
    // A walk of the tenant's chain takes turns in the tenant's lane: while
    // another of its searches holds the lane, it waits.
    let lane = Lane::Tenant(a.to_string());
    let held = app
        .svc
        .audit_turns
        .take(lane, Duration::from_secs(1))
        .await
        .expect("the lane");
    let verify = format!("/audit/verify?tenant={a}");
    let waiting = call(&app, &a_admin, Method::GET, &verify, None);
    let waited = tokio::time::timeout(Duration::from_millis(300), waiting).await;
    assert!(waited.is_err(), "the walk waits for the lane");
    drop(held);
    let (s, checked) = call(&app, &a_admin, Method::GET, &verify, None).await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    app
}

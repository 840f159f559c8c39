//! A search of the audit trail by text reads rows no index narrows (the
//! gateway's decisions, which leave PostgreSQL's trigram index): there it
//! is stopped at its statement timeout and the caller is told to narrow it,
//! in the admin API and on the portal's page, instead of holding a
//! connection for as long as a tenant's trail takes to read. SQLite has no
//! statement timeout: the same search runs to its end.

use atrium::domain::admin_token::Scope;
use atrium::server::db::Backend;
use reqwest::{Method, StatusCode};

use crate::admin_api::{call, token};
use crate::common::{both_configured, Needs, TestApp};
use crate::gateway::tenant_with_key;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    both_configured(
        "audit_search_bounds",
        "a_broad_search_by_text_is_stopped_and_said_so",
        Needs::Nothing,
        |c| c.audit_search_timeout_ms = 10,
        a_broad_search_by_text_is_stopped_and_said_so,
    )
    .into()
}

/// Gateway decisions of `tenant`, written straight into the table (a year
/// of a busy tenant's trail would take the gateway too long here).
async fn decisions(app: &TestApp, tenant: &str, n: i64) {
    let sql = "INSERT INTO audit_events (id, at, actor, action, resource_type, resource_id, \
               tenant_id, status, details, chain) \
               WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1) \
               SELECT 'bulk-' || n, n, 'gateway', 'policy.redact', 'request', 'req_' || n, \
               $2, 'success', '{\"rules\":[\"r1\"],\"entities\":[\"EMAIL_ADDRESS\"]}', $2 FROM g";
    sqlx::query(sql)
        .bind(n)
        .bind(tenant)
        .execute(&app.svc.db.pool)
        .await
        .expect("bulk decisions");
}

async fn a_broad_search_by_text_is_stopped_and_said_so(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Searched", 100, "any").await;
    decisions(&app, a.as_str(), 300_000).await;
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
    match app.svc.db.backend {
        Backend::Postgres => {
            assert_eq!(s, StatusCode::BAD_REQUEST, "{found}");
            assert!(
                found["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(stopped)),
                "{found}"
            );
            assert_eq!(shown, StatusCode::BAD_REQUEST);
            assert!(page.contains(stopped), "the portal says why");
        }
        Backend::Sqlite => {
            assert_eq!(s, StatusCode::OK, "{found}");
            assert_eq!(found["data"].as_array().map(Vec::len), Some(0), "{found}");
            assert_eq!(shown, StatusCode::OK);
            assert!(!page.contains(stopped));
        }
    }
    // Searches by their filters are not bounded this way, and find rows.
    let narrow = "/audit/events?action=policy.redact&limit=2";
    let (s, found) = call(&app, &a_admin, Method::GET, narrow, None).await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(2), "{found}");
    // The connection given back after a stopped search serves the next.
    let (s, _) = call(&app, &a_admin, Method::GET, "/audit/events?limit=1", None).await;
    assert_eq!(s, StatusCode::OK);
    app
}

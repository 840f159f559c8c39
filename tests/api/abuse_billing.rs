//! Issue 21, item 17 (billing), on both backends: invoice numbers come
//! from a sequence per month, so deleting a tenant cannot make the next
//! number collide (before, `COUNT(*) + 1` gave a number already issued and
//! the issuer stopped for every tenant), and an issued invoice outlives
//! its tenant's deletion (bookkeeping retention). The ledger names the
//! model a request resolved to and the price version that priced it, so
//! an alias moved later does not move past usage to another model's line.

use atrium::domain::invoice::{LineKind, Month};
use atrium::domain::time::now_millis;
use atrium::server::devtools::mock_upstream::MockOptions;
use atrium::server::services::catalog::{self, prices};
use atrium::server::services::{invoices, tenants, Actor};
use serde_json::json;

use crate::common::TestApp;
use crate::gateway::{post, setup, tenant_with_key};

on_both_backends!(
    invoice_numbers_never_repeat_and_invoices_outlive_their_tenant,
    the_ledger_names_the_resolved_model_and_its_price_version
);

async fn invoice_numbers_never_repeat_and_invoices_outlive_their_tenant(app: TestApp) -> TestApp {
    let admin = Actor::system("test");
    let month = Month::of(now_millis()).prev().prev();
    let mut issued = Vec::new();
    for name in ["Billed One", "Billed Two"] {
        let (tenant, _) = tenant_with_key(&app, name, 100, "eu-west").await;
        let inv = invoices::issue(&app.svc, &admin, &tenant, month)
            .await
            .expect("issue");
        issued.push((tenant, name, inv.number.expect("number")));
    }
    let (first, first_name, first_number) = issued.remove(0);
    tenants::delete(&app.svc, &admin, &first, first_name)
        .await
        .expect("delete");
    let kept: Option<String> =
        sqlx::query_scalar("SELECT number FROM invoices WHERE tenant_id = $1")
            .bind(first.to_string())
            .fetch_optional(&app.svc.db.pool)
            .await
            .expect("kept");
    assert_eq!(
        kept.as_deref(),
        Some(first_number.as_str()),
        "the issued invoice is kept"
    );
    let (third, _) = tenant_with_key(&app, "Billed Three", 100, "eu-west").await;
    let inv = invoices::issue(&app.svc, &admin, &third, month)
        .await
        .expect("a number after a deletion");
    let number = inv.number.expect("number");
    assert!(number.ends_with("-0003"), "{number}");
    assert!(number != first_number && number != issued[0].2, "{number}");
    app
}

async fn the_ledger_names_the_resolved_model_and_its_price_version(app: TestApp) -> TestApp {
    let admin = Actor::system("test");
    let s = setup(&app, MockOptions::default()).await;
    let ask = |alias_target: &'static str| {
        let (app, s, admin) = (&app, &s, &admin);
        async move {
            catalog::set_alias(&app.svc, admin, &s.tenant_id, "support-bot", alias_target)
                .await
                .expect("alias");
            let r = post(
                app,
                "/v1/messages",
                &s.anthropic_key,
                json!({"model": "support-bot", "max_tokens": 5,
                    "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
            assert_eq!(r.status(), 200);
        }
    };
    ask("gpt-mock").await;
    ask("claude-mock").await;
    app.running.gateway.ledger.flush().await;
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT model, price_from FROM usage_events ORDER BY created_at")
            .fetch_all(&app.svc.db.pool)
            .await
            .expect("rows");
    let version = |model: &str| {
        let (app, admin) = (&app, &admin);
        let model = model.to_string();
        async move {
            let h = prices::history(&app.svc, admin, &model)
                .await
                .expect("history");
            h.at(now_millis()).map(|v| v.effective_from)
        }
    };
    assert_eq!(
        rows,
        vec![
            ("gpt-mock".to_string(), version("gpt-mock").await),
            ("claude-mock".to_string(), version("claude-mock").await),
        ],
        "each row names the model the alias pointed at when it was made, never the alias"
    );
    // The alias now names claude-mock; the invoice still bills the first
    // request as gpt-mock's usage.
    let inv = invoices::get(&app.svc, &admin, &s.tenant_id, Month::of(now_millis()))
        .await
        .expect("draft");
    let usage: Vec<&str> = inv
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Usage)
        .map(|l| l.description.as_str())
        .collect();
    assert!(usage.iter().any(|d| d.contains("gpt-mock")), "{usage:?}");
    assert!(
        usage.iter().all(|d| !d.contains("support-bot")),
        "{usage:?}"
    );
    app
}

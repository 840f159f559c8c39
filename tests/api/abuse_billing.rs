//! Issue 21, item 17 (billing), on both backends: invoice numbers come
//! from a sequence per month, so deleting a tenant cannot make the next
//! number collide (before, `COUNT(*) + 1` gave a number already issued and
//! the issuer stopped for every tenant), and an issued invoice outlives
//! its tenant's deletion (bookkeeping retention).

use atrium::domain::invoice::Month;
use atrium::domain::time::now_millis;
use atrium::server::services::{invoices, tenants, Actor};

use crate::common::TestApp;
use crate::gateway::tenant_with_key;

on_both_backends!(invoice_numbers_never_repeat_and_invoices_outlive_their_tenant);

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

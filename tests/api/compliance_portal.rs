//! Issue 22, item 9, on both backends: the Compliance page before the
//! wasm loads. A tenant admin turns the request log on with a plain form,
//! generates a record of processing, opens its page and downloads the
//! JSON; another tenant's admin reaches none of it.

use crate::common::{client, TestApp};
use crate::portal::{create_tenant, create_user, s};

on_both_backends!(the_compliance_page_works_without_javascript);

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    let status = r.status().as_u16();
    (status, r.text().await.expect("html"))
}

async fn the_compliance_page_works_without_javascript(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let t = s(&create_tenant(&app, &admin, "Plain Compliance").await, "id");
    let other = s(&create_tenant(&app, &admin, "Other Compliance").await, "id");
    create_user(&app, &admin, "dpo@plain.io", "tenant_admin", &t).await;
    create_user(&app, &admin, "dpo@other.io", "tenant_admin", &other).await;
    let c = client();
    app.sign_in(&c, "dpo@plain.io", "a-long-password-1").await;
    let (status, html) = page(&app, &c, "/compliance").await;
    assert_eq!(status, 200);
    assert!(html.contains("Plain Compliance") && html.contains("request-log-mode"));

    let post = |endpoint: &str, form: Vec<(&'static str, String)>| {
        c.post(app.url(&format!("/api/{endpoint}")))
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", app.url("/compliance"))
            .form(&form)
            .send()
    };
    let set = post(
        "set_request_log",
        vec![
            ("tenant_id", t.clone()),
            ("mode", "full".into()),
            ("retention_days", "90".into()),
        ],
    )
    .await
    .expect("post");
    assert_eq!(set.status().as_u16(), 302);
    let (_, html) = page(&app, &c, "/compliance").await;
    assert!(
        html.contains("Request log: Full text"),
        "the outcome is flashed"
    );

    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let made = post(
        "generate_report",
        vec![
            ("tenant_id", t.clone()),
            ("kind", "ropa".into()),
            ("from", day.clone()),
            ("to", day.clone()),
            ("subject", String::new()),
        ],
    )
    .await
    .expect("post");
    assert_eq!(made.status().as_u16(), 302);
    let (_, html) = page(&app, &c, "/compliance").await;
    let id = html
        .split("/compliance/reports/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("the report is listed: {html}"))
        .to_string();
    assert!(id.starts_with("rpt_"), "{id}");
    let (status, shown) = page(&app, &c, &format!("/compliance/reports/{id}?format=html")).await;
    assert_eq!(status, 200);
    assert!(shown.contains("GDPR Art. 30(1)") && shown.contains("Plain Compliance"));
    let json = c
        .get(app.url(&format!("/compliance/reports/{id}?format=json")))
        .send()
        .await
        .expect("json");
    assert!(json.headers()["content-disposition"]
        .to_str()
        .is_ok_and(|d| d.contains("attachment")));
    let doc: serde_json::Value = json.json().await.expect("doc");
    assert_eq!(doc["id"], id.as_str());

    let nosy = client();
    app.sign_in(&nosy, "dpo@other.io", "a-long-password-1")
        .await;
    let (status, _) = page(
        &app,
        &nosy,
        &format!("/compliance/reports/{id}?format=json"),
    )
    .await;
    assert_eq!(status, 404, "another tenant's report is not there for them");
    let (status, body) = app
        .call(&nosy, "compliance_view", &[("tenant", t.as_str())])
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app
        .call(
            &nosy,
            "set_request_log",
            &[("tenant_id", t.as_str()), ("mode", "off")],
        )
        .await;
    assert_eq!(status, 404);
    app
}

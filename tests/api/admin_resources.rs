//! Issue 23: the admin API beyond tenants and keys: the catalog
//! (providers, models, aliases, prices), policies, flags with revisions,
//! billing (usage, CloudEvents, invoices), plans with archive, audit
//! search and export, custom models and pools, and compliance reports.
//! Each on both backends, each with its scope refusals and audit events.

use atrium::domain::admin_token::Scope;
use atrium::domain::flag::{Flag, FlagKey};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_api::{call, token};
use crate::budgets::call as complete;
use crate::common::{plain_client, TestApp};
use crate::gateway::{setup, tenant_with_key};
use atrium::server::devtools::mock_upstream::MockOptions;

on_both_backends!(
    the_catalog_is_managed_and_nothing_routed_is_removed,
    policies_are_changed_in_place_and_tried,
    flags_change_under_their_revision,
    usage_invoices_and_plans_are_read_and_archived,
    audit_search_pages_and_stays_within_the_tenant,
    custom_models_pools_and_compliance_reports,
    hostile_inputs_are_bounded_and_internals_stay_hidden,
);

fn has(actions: &[(String, String)], action: &str) -> bool {
    actions.iter().any(|(a, _)| a == action)
}

async fn the_catalog_is_managed_and_nothing_routed_is_removed(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Catalog A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Catalog B", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let viewer = token(&app, Scope::PlatformRead, None).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;

    let provider = json!({"name": "acme", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                          "credential": {"stored": "sk-do-not-echo"}});
    let (s, _) = call(
        &app,
        &viewer,
        Method::POST,
        "/catalog/providers",
        Some(provider.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a viewer cannot add providers");
    let (s, p) = call(
        &app,
        &admin,
        Method::POST,
        "/catalog/providers",
        Some(provider),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["credential"], "stored");
    assert!(
        !p.to_string().contains("sk-do-not-echo"),
        "the secret is never shown"
    );
    let (s, bad) = call(
        &app,
        &admin,
        Method::PATCH,
        "/catalog/providers/acme",
        Some(json!({"base_url": "https://169.254.169.254/latest"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "metadata addresses are refused: {bad}"
    );
    let (s, p) = call(
        &app,
        &admin,
        Method::PATCH,
        "/catalog/providers/acme",
        Some(json!({"timeout_ms": 5000, "region": "eu-west"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["timeout_ms"].as_i64(), p["region"].as_str()),
        (Some(5000), Some("eu-west"))
    );
    let (s, list) = call(&app, &viewer, Method::GET, "/catalog/providers", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(list["data"]
        .as_array()
        .expect("data")
        .iter()
        .any(|p| p["name"] == "acme"));
    let (s, _) = call(&app, &a_admin, Method::GET, "/catalog/providers", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the catalog is the platform's");

    let price = json!({"input_per_mtok": 1_000_000, "output_per_mtok": 2_000_000,
                       "cache_read_per_mtok": 0, "cache_write_per_mtok": 0});
    let model = json!({"name": "acme-large", "provider": "acme", "price": price});
    let (s, m) = call(&app, &admin, Method::POST, "/catalog/models", Some(model)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let (s, _) = call(
        &app,
        &a_admin,
        Method::PUT,
        &format!("/tenants/{b}/aliases/bot"),
        Some(json!({"model": "acme-large"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another tenant's aliases do not exist for A"
    );
    let (s, alias) = call(
        &app,
        &a_admin,
        Method::PUT,
        &format!("/tenants/{a}/aliases/bot"),
        Some(json!({"model": "acme-large"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{alias}");
    assert_eq!(alias["model"], "acme-large");
    let (s, why) = call(
        &app,
        &admin,
        Method::DELETE,
        "/catalog/models/acme-large",
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "an alias still routes to it: {why}"
    );
    let (s, why) = call(
        &app,
        &admin,
        Method::DELETE,
        "/catalog/providers/acme",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "a model is deployed on it: {why}");
    let later = atrium::domain::time::now_millis() + 86_400_000;
    let (s, v) = call(
        &app,
        &admin,
        Method::POST,
        "/catalog/models/acme-large/prices",
        Some(json!({"price": price, "effective_from": later})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, history) = call(
        &app,
        &viewer,
        Method::GET,
        "/catalog/models/acme-large/prices",
        None,
    )
    .await;
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
    let (s, _) = call(
        &app,
        &a_admin,
        Method::DELETE,
        &format!("/tenants/{a}/aliases/bot"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &app,
        &admin,
        Method::DELETE,
        "/catalog/models/acme-large",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &app,
        &admin,
        Method::DELETE,
        "/catalog/providers/acme",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &app,
        &admin,
        Method::GET,
        "/catalog/models/acme-large/prices",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let actions = app.audit_actions().await;
    for a in [
        "provider.create",
        "provider.update",
        "model.upsert",
        "model_alias.set",
        "price.set",
        "model_alias.remove",
        "model.remove",
        "provider.remove",
    ] {
        assert!(has(&actions, a), "{a} audited");
    }
    app
}

async fn policies_are_changed_in_place_and_tried(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Policy A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Policy B", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let a_read = token(&app, Scope::TenantRead, Some(&a)).await;
    let b_admin = token(&app, Scope::TenantWrite, Some(&b)).await;
    let rule = json!({"tenant_id": a, "target": {"kind": "entity", "value": "EMAIL_ADDRESS"},
                      "action": "redact"});
    let (s, _) = call(
        &app,
        &b_admin,
        Method::POST,
        "/policies",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "rules are set by the platform");
    let (s, made) = call(&app, &admin, Method::POST, "/policies", Some(rule)).await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("id").to_string();
    let (s, _) = call(
        &app,
        &b_admin,
        Method::GET,
        &format!("/policies/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "A's rule does not exist for B");
    let (s, listed) = call(
        &app,
        &a_read,
        Method::GET,
        &format!("/policies?tenant_id={a}"),
        None,
    )
    .await;
    assert_eq!(
        (s, listed["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (s, changed) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/policies/{id}"),
        Some(json!({"action": "block"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(
        (changed["id"].as_str(), changed["action"].as_str()),
        (Some(id.as_str()), Some("block"))
    );
    let (s, trial) = call(
        &app,
        &a_read,
        Method::POST,
        "/policies/try",
        Some(json!({"tenant_id": a, "text": "write to jane@example.com"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{trial}");
    assert_eq!(trial["decision"]["action"], "block");
    assert!(trial["forwarded"].is_null(), "blocked text goes nowhere");
    let (s, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/policies/{id}"),
        Some(json!({"action": "shred"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(
        &app,
        &admin,
        Method::DELETE,
        &format!("/policies/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let actions = app.audit_actions().await;
    assert!(has(&actions, "policy.update") && has(&actions, "policy.remove"));
    app
}

async fn flags_change_under_their_revision(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Flags A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Flags B", 100, "any").await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let b_admin = token(&app, Scope::TenantWrite, Some(&b)).await;
    let flag = Flag::boolean(FlagKey::parse("beta-ui").expect("key"), "Beta UI");
    let flag = serde_json::to_value(flag).expect("flag json");
    let (s, made) = call(
        &app,
        &a_admin,
        Method::POST,
        &format!("/flags?tenant_id={a}"),
        Some(flag.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let (s, _) = call(
        &app,
        &b_admin,
        Method::POST,
        &format!("/flags?tenant_id={a}"),
        Some(flag),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "A's flags do not exist for B");
    let url = app.url(&format!("/admin/v1/flags/beta-ui?tenant_id={a}"));
    let read = plain_client()
        .get(&url)
        .bearer_auth(&a_admin)
        .send()
        .await
        .expect("read");
    let etag = read.headers()["etag"].to_str().expect("etag").to_string();
    let patch = |tag: &str, body: Value| {
        plain_client()
            .patch(&url)
            .bearer_auth(&a_admin)
            .header("if-match", tag)
            .json(&body)
            .send()
    };
    let rolled = patch(&etag, json!({"rollout": 30})).await.expect("patch");
    assert_eq!(rolled.status(), StatusCode::OK);
    let newer = rolled.headers()["etag"].to_str().expect("etag").to_string();
    assert_ne!(newer, etag, "a change moves the revision");
    let stale = patch(&etag, json!({"enabled": false}))
        .await
        .expect("patch");
    assert_eq!(
        stale.status(),
        StatusCode::PRECONDITION_FAILED,
        "a stale revision changes nothing"
    );
    let two = patch(&newer, json!({"enabled": false, "rollout": 5}))
        .await
        .expect("patch");
    assert_eq!(
        two.status(),
        StatusCode::BAD_REQUEST,
        "one change at a time"
    );
    let off = patch(&newer, json!({"enabled": false}))
        .await
        .expect("patch");
    assert_eq!(off.status(), StatusCode::OK);
    let (s, history) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/flags/beta-ui/history?tenant_id={a}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let summaries: Vec<&str> = history["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert!(
        summaries.contains(&"flag.rollout") && summaries.contains(&"flag.disable"),
        "{history}"
    );
    let (_, flags) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/flags?tenant_id={a}"),
        None,
    )
    .await;
    assert_eq!(flags["data"][0]["enabled"], false);
    app
}

async fn usage_invoices_and_plans_are_read_and_archived(app: TestApp) -> TestApp {
    setup(&app, MockOptions::default()).await;
    let (a, key) = tenant_with_key(&app, "Billing A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Billing B", 100, "any").await;
    for i in 0..3 {
        assert_eq!(complete(&app.base, &key, i).await.0, 200);
    }
    app.running.gateway.ledger.flush().await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let a_read = token(&app, Scope::TenantRead, Some(&a)).await;
    let (s, report) = call(
        &app,
        &a_read,
        Method::GET,
        &format!("/tenants/{a}/usage"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["totals"]["requests"], 3);
    let (s, _) = call(
        &app,
        &a_read,
        Method::GET,
        &format!("/tenants/{b}/usage"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/tenants/{a}/usage/events?limit=2&cursor={cursor}");
        let (s, page) = call(&app, &a_read, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for e in page["data"].as_array().expect("data") {
            assert_eq!(e["specversion"], "1.0");
            seen.push(e["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(
        (seen.len(), unique.len()),
        (3, 3),
        "every event once, in order"
    );

    let (s, invoices) = call(
        &app,
        &a_read,
        Method::GET,
        &format!("/tenants/{a}/invoices"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let month = invoices["data"][0]["month"]
        .as_str()
        .expect("month")
        .to_string();
    assert_eq!(invoices["data"][0]["status"], "Draft");
    let csv = plain_client()
        .get(app.url(&format!(
            "/admin/v1/tenants/{a}/invoices/{month}?format=csv"
        )))
        .bearer_auth(&a_read)
        .send()
        .await
        .expect("csv");
    assert!(csv.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/csv"));
    assert!(csv
        .text()
        .await
        .expect("text")
        .starts_with("kind,description"));
    let (s, _) = call(
        &app,
        &a_read,
        Method::POST,
        &format!("/tenants/{a}/invoices/{month}/issue"),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "tenants do not issue their own invoices"
    );
    let (s, why) = call(
        &app,
        &admin,
        Method::POST,
        &format!("/tenants/{a}/invoices/{month}/issue"),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "an open month is not issued: {why}"
    );

    let (s, plan) = call(
        &app,
        &admin,
        Method::POST,
        "/plans",
        Some(json!({"name": "Starter", "base_fee_micros": 10_000_000})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{plan}");
    let (s, sub) = call(
        &app,
        &admin,
        Method::PUT,
        &format!("/tenants/{a}/plan"),
        Some(json!({"plan": "Starter"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{sub}");
    let (s, archived) = call(&app, &admin, Method::POST, "/plans/Starter/archive", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(archived["archived_at"].is_i64());
    let (s, _) = call(
        &app,
        &admin,
        Method::PUT,
        &format!("/tenants/{b}/plan"),
        Some(json!({"plan": "Starter"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "an archived plan takes no one new");
    let (_, history) = call(
        &app,
        &a_read,
        Method::GET,
        &format!("/tenants/{a}/plan"),
        None,
    )
    .await;
    assert_eq!(
        history["data"][0]["plan"]["name"], "Starter",
        "A keeps its plan"
    );
    assert!(has(&app.audit_actions().await, "plan.archive"));
    app
}

async fn audit_search_pages_and_stays_within_the_tenant(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Audit A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Audit B", 100, "any").await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    for i in 0..4 {
        let body = json!({"name": format!("key {i}")});
        let (s, _) = call(
            &app,
            &a_admin,
            Method::POST,
            &format!("/tenants/{a}/api-keys"),
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/audit/events?limit=2&action=api_key.create&cursor={cursor}");
        let (s, page) = call(&app, &a_admin, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for e in page["data"].as_array().expect("data") {
            assert_eq!(e["tenant_id"].as_str(), Some(a.as_str()), "only A's events");
            ids.push(e["id"].as_str().expect("id").to_string());
        }
        if ids.len() == 2 {
            // An event arriving between pages does not shift the next one.
            call(
                &app,
                &a_admin,
                Method::POST,
                &format!("/tenants/{a}/api-keys"),
                Some(json!({"name": "late"})),
            )
            .await;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert!(
        ids.len() >= 5 && unique.len() == ids.len(),
        "no event twice: {ids:?}"
    );
    let (s, _) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/audit/events?tenant_id={b}"),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the filter cannot widen a tenant's reach"
    );
    let (s, event) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/audit/events/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(
        (s, event["id"].as_str()),
        (StatusCode::OK, Some(ids[0].as_str()))
    );
    let url = app.url(&format!("/admin/v1/audit/export?tenant_id={a}&format=json"));
    let export = plain_client()
        .get(&url)
        .bearer_auth(&a_admin)
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), StatusCode::OK);
    let text = export.text().await.expect("text");
    assert!(text.contains("api_key.create"), "{text}");
    let url = app.url(&format!("/admin/v1/audit/export?tenant_id={b}"));
    let refused = plain_client()
        .get(&url)
        .bearer_auth(&a_admin)
        .send()
        .await
        .expect("export");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(has(&app.audit_actions().await, "audit.export"));
    app
}

async fn custom_models_pools_and_compliance_reports(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Reports A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Reports B", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let (s, models) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/tenants/{a}/custom-models"),
        None,
    )
    .await;
    assert_eq!(
        (s, models["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (s, _) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/tenants/{b}/custom-models"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        &a_admin,
        Method::POST,
        &format!("/tenants/{a}/custom-models/nope/actions"),
        Some(json!({"action": "validate"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        &a_admin,
        Method::POST,
        &format!("/tenants/{a}/custom-models/nope/actions"),
        Some(json!({"action": "explode"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&app, &a_admin, Method::GET, "/pools", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, pools) = call(&app, &admin, Method::GET, "/pools", None).await;
    assert_eq!(s, StatusCode::OK, "{pools}");

    let asked = json!({"kind": "ropa", "tenant_id": a, "from": "2026-01-01", "to": "2026-12-31"});
    let (s, doc) = call(
        &app,
        &a_admin,
        Method::POST,
        "/compliance/reports",
        Some(asked),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["signature"]["algorithm"], "Ed25519");
    let id = doc["id"].as_str().expect("id").to_string();
    let (s, listed) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/compliance/reports?tenant_id={a}"),
        None,
    )
    .await;
    assert_eq!(
        (s, listed["data"][0]["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    let (s, again) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/compliance/reports/{id}"),
        None,
    )
    .await;
    assert_eq!((s, &again), (StatusCode::OK, &doc), "read back as issued");
    let b_admin = token(&app, Scope::TenantWrite, Some(&b)).await;
    let (s, _) = call(
        &app,
        &b_admin,
        Method::GET,
        &format!("/compliance/reports/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let limit = atrium::server::services::compliance::MAX_REPORTS_PER_DAY;
    for i in 1..limit {
        sqlx::query(
            "INSERT INTO compliance_reports (id, tenant_id, kind, period_from, period_to, created_at, \
             created_by, body_sha256, document) VALUES ($1, $2, 'ropa', 0, 0, $3, 'test', '', '{}')",
        )
        .bind(format!("rpt_seed{i}"))
        .bind(a.as_str())
        .bind(atrium::domain::time::now_millis())
        .execute(&app.svc.db.pool)
        .await
        .expect("report row");
    }
    let again = json!({"kind": "ropa", "tenant_id": a, "from": "2026-01-01", "to": "2026-12-31"});
    let (s, why) = call(
        &app,
        &a_admin,
        Method::POST,
        "/compliance/reports",
        Some(again),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "a day's reports are bounded: {why}"
    );
    app
}

/// The hostile review's findings: aliases have a quota, prices a bound, a
/// stored key does not follow a provider to a new host, and one audit
/// event read by id is redacted for tenant users as search is.
async fn hostile_inputs_are_bounded_and_internals_stay_hidden(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Hostile A", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let provider = json!({"name": "vault", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                          "credential": {"stored": "sk-vault"}});
    let (s, _) = call(
        &app,
        &admin,
        Method::POST,
        "/catalog/providers",
        Some(provider),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let elsewhere = json!({"base_url": "http://localhost:7/v1"});
    let (s, why) = call(
        &app,
        &admin,
        Method::PATCH,
        "/catalog/providers/vault",
        Some(elsewhere),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "the stored key stays with its host: {why}"
    );
    let with_key = json!({"base_url": "http://localhost:7/v1", "credential": {"stored": "sk-new"}});
    let (s, _) = call(
        &app,
        &admin,
        Method::PATCH,
        "/catalog/providers/vault",
        Some(with_key),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let huge = json!({"input_per_mtok": i64::MAX, "output_per_mtok": 1,
                      "cache_read_per_mtok": 0, "cache_write_per_mtok": 0});
    let model = json!({"name": "vault-m", "provider": "vault", "price": huge});
    let (s, why) = call(&app, &admin, Method::POST, "/catalog/models", Some(model)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{why}");
    assert!(why["errors"]["input_per_mtok"].is_array(), "{why}");
    let fair = json!({"input_per_mtok": 1, "output_per_mtok": 1, "cache_read_per_mtok": 0, "cache_write_per_mtok": 0});
    let model = json!({"name": "vault-m", "provider": "vault", "price": fair});
    let (s, _) = call(&app, &admin, Method::POST, "/catalog/models", Some(model)).await;
    assert_eq!(s, StatusCode::CREATED);

    let model_id: String = sqlx::query_scalar("SELECT id FROM models WHERE name = 'vault-m'")
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("model");
    for i in 0..atrium::server::services::catalog::MAX_ALIASES {
        sqlx::query("INSERT INTO model_aliases (tenant_id, alias, model_id, created_at) VALUES ($1, $2, $3, 0)")
            .bind(a.as_str()).bind(format!("a{i}")).bind(&model_id)
            .execute(&app.svc.db.pool).await.expect("alias row");
    }
    let (s, why) = call(
        &app,
        &a_admin,
        Method::PUT,
        &format!("/tenants/{a}/aliases/one-more"),
        Some(json!({"model": "vault-m"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{why}");
    let (s, _) = call(
        &app,
        &a_admin,
        Method::PUT,
        &format!("/tenants/{a}/aliases/a7"),
        Some(json!({"model": "vault-m"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "repointing a held alias is not a new one"
    );

    // A quota holds under a burst: one slot left, eight creates at once.
    let limit = atrium::domain::flag::MAX_FLAGS_PER_SCOPE;
    for i in 0..limit - 1 {
        let flag = Flag::boolean(
            FlagKey::parse(&format!("seeded-{i}")).expect("key"),
            "seeded",
        );
        sqlx::query("INSERT INTO flags (id, tenant_id, key, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, 0)")
            .bind(format!("seed-{i}")).bind(a.as_str()).bind(flag.key.as_str())
            .bind(serde_json::to_string(&flag).expect("json"))
            .execute(&app.svc.db.pool).await.expect("flag row");
    }
    let burst = (0..8).map(|i| {
        let flag = serde_json::to_value(Flag::boolean(
            FlagKey::parse(&format!("burst-{i}")).expect("key"),
            "b",
        ))
        .expect("json");
        let (app, a_admin, a) = (&app, a_admin.clone(), a.clone());
        async move {
            call(
                app,
                &a_admin,
                Method::POST,
                &format!("/flags?tenant_id={a}"),
                Some(flag),
            )
            .await
            .0
        }
    });
    let answers = futures::future::join_all(burst).await;
    let made = answers
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(made, 1, "exactly the one free slot is taken: {answers:?}");
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flags WHERE tenant_id = $1")
        .bind(a.as_str())
        .fetch_one(&app.svc.db.pool)
        .await
        .expect("count");
    assert_eq!(held, limit);

    let (s, moved) = call(
        &app,
        &admin,
        Method::PUT,
        &format!("/tenants/{a}/data"),
        Some(json!({"isolation": "schema_per_tenant"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    let (_, found) = call(
        &app,
        &admin,
        Method::GET,
        "/audit/events?action=tenant.set_isolation",
        None,
    )
    .await;
    let id = found["data"][0]["id"].as_str().expect("event").to_string();
    assert!(
        !found["data"][0]["details"]
            .as_str()
            .unwrap_or("")
            .contains("(internal)"),
        "operators see it whole"
    );
    let (s, event) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/audit/events/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        event["details"]
            .as_str()
            .expect("details")
            .contains("(internal)"),
        "{event}"
    );
    let url = app.url(&format!("/admin/v1/audit/export?tenant_id={a}&format=json"));
    let text = plain_client()
        .get(&url)
        .bearer_auth(&a_admin)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("(internal)"),
        "the export is redacted too: {text}"
    );
    app
}

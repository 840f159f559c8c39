//! Issue 23: the admin API's compliance operations (breach register,
//! access reviews, erasure), flag preview and bucket checks, and the
//! token seam itself: every read audited with its token, guessers refused
//! before any lookup, and key rotation that cannot fork a key.

use atrium::domain::admin_token::Scope;
use atrium::domain::flag::{Flag, FlagKey, Rule};
use atrium::domain::time::now_millis;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_api::{call, token};
use crate::common::{plain_client, TestApp};
use crate::gateway::tenant_with_key;

on_both_backends!(
    breaches_are_recorded_and_stepped_within_reach,
    access_reviews_and_erasure_run_through_the_api,
    flags_are_previewed_and_bucket_checked,
    every_read_is_audited_and_guessers_are_refused,
    concurrent_rotations_issue_one_key,
);

/// Every named action is in the audit trail.
async fn assert_audited(app: &TestApp, names: &[&str]) {
    let actions = app.audit_actions().await;
    for name in names {
        assert!(actions.iter().any(|(a, _)| a == name), "{name} audited");
    }
}

fn breach(tenant: Option<&str>) -> Value {
    json!({"tenant_id": tenant, "detected_at": now_millis() - 3_600_000, "nature": "laptop lost",
           "categories": ["email", "name"], "subjects_approx": 40, "records_approx": 90,
           "consequences": "phishing risk", "measures": "disk encrypted; keys rotated",
           "dpo": "dpo@example.com"})
}

async fn breaches_are_recorded_and_stepped_within_reach(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Breach A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Breach B", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let a_reader = token(&app, Scope::TenantRead, Some(&a)).await;
    let b_admin = token(&app, Scope::TenantWrite, Some(&b)).await;

    let (s, platform) = call(&app, &admin, Method::POST, "/breaches", Some(breach(None))).await;
    assert_eq!(s, StatusCode::CREATED, "{platform}");
    assert_eq!(platform["categories"], json!(["email", "name"]));
    let (s, _) = call(
        &app,
        &a_admin,
        Method::POST,
        "/breaches",
        Some(breach(None)),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a tenant cannot record a platform breach"
    );
    let (s, own) = call(
        &app,
        &a_admin,
        Method::POST,
        "/breaches",
        Some(breach(Some(a.as_str()))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    let (s, _) = call(
        &app,
        &a_reader,
        Method::POST,
        "/breaches",
        Some(breach(Some(a.as_str()))),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a reader cannot record one");
    let mut future = breach(Some(a.as_str()));
    future["detected_at"] = json!(now_millis() + 86_400_000);
    let (s, p) = call(&app, &a_admin, Method::POST, "/breaches", Some(future)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    assert!(p["errors"]["detected_at"].is_array(), "{p}");

    let own_id = own["id"].as_str().expect("id");
    let (s, _) = call(
        &app,
        &b_admin,
        Method::GET,
        &format!("/breaches/{own_id}"),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another tenant's breach is not found"
    );
    let (s, listed) = call(
        &app,
        &b_admin,
        Method::GET,
        &format!("/breaches?tenant_id={b}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed["data"], json!([]), "B sees none of A's");
    let list = format!("/breaches?tenant_id={a}");
    let (s, listed) = call(&app, &a_admin, Method::GET, &list, None).await;
    assert_eq!(
        (s, listed["data"][0]["id"].as_str()),
        (StatusCode::OK, Some(own_id))
    );
    let (s, _) = call(&app, &a_reader, Method::GET, &list, None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the register is for the tenant's admins"
    );

    let step = |body: Value| body;
    let at = now_millis() - 60_000;
    let path = format!("/breaches/{own_id}/steps");
    let (s, b1) = call(
        &app,
        &a_admin,
        Method::POST,
        &path,
        Some(step(
            json!({"step": "notified", "at": at, "reference": "DPA-1"}),
        )),
    )
    .await;
    assert_eq!(
        (s, b1["notified_at"].as_i64()),
        (StatusCode::OK, Some(at)),
        "{b1}"
    );
    let (s, b2) = call(
        &app,
        &a_admin,
        Method::POST,
        &path,
        Some(json!({"step": "art34", "decision": "not_required", "reason": "encrypted"})),
    )
    .await;
    assert_eq!(
        (s, b2["art34_decision"].as_str()),
        (StatusCode::OK, Some("not_required")),
        "{b2}"
    );
    let (s, _) = call(
        &app,
        &a_admin,
        Method::POST,
        &path,
        Some(json!({"step": "informed", "tenant_id": a.as_str()})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only the operator informs controllers"
    );
    let (s, _) = call(
        &app,
        &b_admin,
        Method::POST,
        &path,
        Some(json!({"step": "art34", "decision": "not_required", "reason": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "B cannot step A's breach");
    let (s, p) = call(
        &app,
        &a_admin,
        Method::POST,
        &path,
        Some(json!({"step": "explode"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");

    let ppath = format!("/breaches/{}/steps", platform["id"].as_str().expect("id"));
    let (s, informed) = call(
        &app,
        &admin,
        Method::POST,
        &ppath,
        Some(json!({"step": "informed", "tenant_id": b.as_str()})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{informed}");
    assert_eq!(informed["tenants_informed"][0][0], b.as_str());
    assert_audited(
        &app,
        &[
            "breach.record",
            "breach.notify",
            "breach.art34",
            "breach.inform",
        ],
    )
    .await;
    app
}

async fn access_reviews_and_erasure_run_through_the_api(app: TestApp) -> TestApp {
    let (a, key) = tenant_with_key(&app, "Review A", 100, "any").await;
    let (b, _) = tenant_with_key(&app, "Review B", 100, "any").await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let a_reader = token(&app, Scope::TenantRead, Some(&a)).await;
    let b_admin = token(&app, Scope::TenantWrite, Some(&b)).await;

    let body = json!({"tenant_id": a.as_str()});
    let (s, _) = call(
        &app,
        &a_reader,
        Method::POST,
        "/access-reviews",
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a reader cannot start a review");
    let (s, _) = call(
        &app,
        &b_admin,
        Method::POST,
        "/access-reviews",
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "B cannot review A");
    let (s, review) = call(&app, &a_admin, Method::POST, "/access-reviews", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{review}");
    let item = review["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == "api_key")
        .expect("the tenant's key is listed")
        .clone();
    let id = review["id"].as_str().expect("id");
    let (s, _) = call(
        &app,
        &b_admin,
        Method::GET,
        &format!("/access-reviews/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let attest = json!({"kind": "api_key", "id": item["id"], "decision": "revoke"});
    let path = format!("/access-reviews/{id}/attest");
    let (s, after) = call(&app, &a_admin, Method::POST, &path, Some(attest.clone())).await;
    assert_eq!(s, StatusCode::OK, "{after}");
    let (s, _) = call(&app, &a_admin, Method::POST, &path, Some(attest)).await;
    assert_eq!(s, StatusCode::CONFLICT, "an item is attested once");
    let res = plain_client()
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("gateway");
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the revoked key is refused"
    );
    let (s, listed) = call(
        &app,
        &a_admin,
        Method::GET,
        &format!("/access-reviews?tenant_id={a}"),
        None,
    )
    .await;
    assert_eq!(
        (s, listed["data"][0]["id"].as_str()),
        (StatusCode::OK, Some(id))
    );
    let list = format!("/access-reviews?tenant_id={a}");
    let (s, _) = call(&app, &a_reader, Method::GET, &list, None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "who can reach a tenant is for its admins"
    );

    let path = format!("/tenants/{a}/erasures");
    let subject = json!({"subject": "ada@example.com"});
    let (s, _) = call(&app, &a_reader, Method::POST, &path, Some(subject.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a reader cannot erase");
    let (s, _) = call(&app, &b_admin, Method::POST, &path, Some(subject.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "B cannot erase in A");
    let (s, receipt) = call(&app, &a_admin, Method::POST, &path, Some(subject)).await;
    assert_eq!(s, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["signature"]["algorithm"], "Ed25519");
    assert!(
        !receipt.to_string().contains("ada@example.com"),
        "the receipt names a hash, not the subject"
    );
    let (s, p) = call(
        &app,
        &a_admin,
        Method::POST,
        &path,
        Some(json!({"subject": ""})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    assert_audited(
        &app,
        &[
            "access_review.start",
            "access_review.attest",
            "api_key.revoke",
            "compliance.erase",
        ],
    )
    .await;
    app
}

async fn flags_are_previewed_and_bucket_checked(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Flag A", 100, "any").await;
    let admin = token(&app, Scope::PlatformWrite, None).await;
    let viewer = token(&app, Scope::PlatformRead, None).await;
    let a_admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let mut flag = Flag::boolean(FlagKey::parse("new-router").expect("key"), "New router");
    flag.rules = vec![Rule::Rollout {
        percentage: 100,
        variant: "on".into(),
        group_id: None,
    }];
    let flag = serde_json::to_value(flag).expect("flag json");
    let (s, f) = call(&app, &admin, Method::POST, "/flags", Some(flag)).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");

    let (s, p) = call(
        &app,
        &viewer,
        Method::GET,
        "/flags/new-router/preview",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert!(p["tenants"].as_u64().expect("count") >= 1);
    assert_eq!(
        p["by_variant"][0][0], "on",
        "a full rollout serves everyone on: {p}"
    );
    let (s, _) = call(
        &app,
        &a_admin,
        Method::GET,
        "/flags/new-router/preview",
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a tenant cannot see who else gets a flag"
    );
    let (s, _) = call(&app, &viewer, Method::GET, "/flags/no-such/preview", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let q = format!("/flags/new-router/buckets?targeting_key={a}");
    let (s, c) = call(&app, &viewer, Method::GET, &q, None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (
            c["verdict"]["variant"].as_str(),
            c["buckets"][0]["out_of"].as_u64()
        ),
        (Some("on"), Some(100))
    );
    let long = "k".repeat(300);
    let (s, _) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("/flags/new-router/buckets?targeting_key={long}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a targeting key is bounded");
    app
}

async fn every_read_is_audited_and_guessers_are_refused(app: TestApp) -> TestApp {
    let viewer = token(&app, Scope::PlatformRead, None).await;
    let (s, _) = call(&app, &viewer, Method::GET, "/tenants?limit=5", None).await;
    assert_eq!(s, StatusCode::OK);
    let reads: Vec<(String, String)> = sqlx::query_as(
        "SELECT resource_id, details FROM audit_events WHERE action = 'admin_api.read'",
    )
    .fetch_all(&app.svc.db.pool)
    .await
    .expect("reads");
    let token_id = viewer.split('_').nth(2).unwrap_or_default();
    assert!(
        reads
            .iter()
            .any(|(path, details)| path == "/admin/v1/tenants" && details.contains(token_id)),
        "the read is audited with its token: {reads:?}"
    );

    for _ in 0..120 {
        let (s, _) = call(&app, "atr_adm_0000_guess", Method::GET, "/tenants", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let res = plain_client()
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("reachable");
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address is refused"
    );
    assert!(res.headers().contains_key("retry-after"));
    app
}

async fn concurrent_rotations_issue_one_key(app: TestApp) -> TestApp {
    let (a, _) = tenant_with_key(&app, "Rotate A", 100, "any").await;
    let admin = token(&app, Scope::TenantWrite, Some(&a)).await;
    let (_, keys) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/tenants/{a}/api-keys"),
        None,
    )
    .await;
    let key_id = keys["data"][0]["id"].as_str().expect("key").to_string();
    let path = format!("/api-keys/{key_id}/rotate");
    let tries = (0..6).map(|_| call(&app, &admin, Method::POST, &path, None));
    let answers = futures::future::join_all(tries).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 5), "{answers:?}");
    let (_, keys) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/tenants/{a}/api-keys"),
        None,
    )
    .await;
    let live = keys["data"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["revoked_at"].is_null())
        .count();
    assert_eq!(live, 1, "one live key after the rotations: {keys}");
    app
}

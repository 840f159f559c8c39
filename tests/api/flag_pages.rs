//! The Feature toggles pages through the real server (issue 11), on SQLite
//! and PostgreSQL: roles, server-rendered lists, the flag page's who-gets-it
//! preview, bucket check, rules editor and history.

use serde_json::json;

use crate::common::TestApp;
use crate::flags::cli;
use crate::portal::{create_tenant, create_user, s};

on_both_backends!(
    the_toggles_page_follows_roles,
    the_flag_page_explains_and_edits
);

/// The Feature toggles page and its server functions: a tenant's admin
/// creates and changes its flags, its viewer only reads them, and the page
/// lists them in the server-rendered HTML (before any wasm).
async fn the_toggles_page_follows_roles(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let tid = s(&create_tenant(&app, &admin, "Toggled").await, "id");
    create_user(&app, &admin, "owner@t.io", "tenant_admin", &tid).await;
    create_user(&app, &admin, "viewer@t.io", "tenant_viewer", &tid).await;
    let (owner, viewer) = (crate::common::client(), crate::common::client());
    assert_eq!(
        app.sign_in(&owner, "owner@t.io", "a-long-password-1").await,
        "/"
    );
    assert_eq!(
        app.sign_in(&viewer, "viewer@t.io", "a-long-password-1")
            .await,
        "/"
    );

    let form = [
        ("tenant", tid.as_str()),
        ("key", "ui.dark-mode"),
        ("kind", "boolean"),
        ("variants", ""),
        ("description", "dark mode"),
    ];
    let (status, body) = app.call(&owner, "create_flag", &form).await;
    assert_eq!(status, 200, "{body}");
    let rollout = [
        ("tenant", tid.as_str()),
        ("key", "ui.dark-mode"),
        ("percent", "50"),
    ];
    assert_eq!(app.call(&owner, "set_flag_rollout", &rollout).await.0, 200);
    let (status, listed) = app
        .call(&viewer, "list_flags", &[("tenant", tid.as_str())])
        .await;
    assert_eq!(
        (status, listed[0]["key"].as_str()),
        (200, Some("ui.dark-mode")),
        "{listed}"
    );
    let kill = [
        ("tenant", tid.as_str()),
        ("key", "ui.dark-mode"),
        ("enabled", "false"),
    ];
    assert_eq!(
        app.call(&viewer, "set_flag_enabled", &kill).await.0,
        403,
        "viewers read only"
    );
    assert_eq!(
        app.call(&owner, "list_flags", &[("tenant", "")]).await.0,
        403,
        "platform flags are not theirs"
    );
    let bad = [
        ("tenant", tid.as_str()),
        ("key", "ui.dark-mode"),
        ("percent", "150"),
    ];
    assert_eq!(app.call(&owner, "set_flag_rollout", &bad).await.0, 400);

    let html = owner
        .get(app.url(&format!("/flags?tenant={tid}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        html.contains("ui.dark-mode") && html.contains("50%"),
        "server-rendered list"
    );

    // The tenant page says which platform flags are on for the tenant, and why.
    let (status, verdicts) = app
        .call(&viewer, "tenant_platform_flags", &[("id", tid.as_str())])
        .await;
    assert_eq!(status, 200, "{verdicts}");
    let streaming = verdicts
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["key"] == "gateway.streaming");
    assert_eq!(
        streaming.map(|v| (v["value"].clone(), v["reason"].clone())),
        Some((json!(true), json!("STATIC")))
    );
    let page = viewer
        .get(app.url(&format!("/tenants/{tid}")))
        .send()
        .await
        .expect("page");
    let page = page.text().await.unwrap_or_default();
    assert!(
        page.contains("gateway.streaming") && page.contains("models.custom"),
        "tenant page lists platform flags"
    );
    app
}

/// The flag page, server-rendered: a platform admin sees who gets it and
/// checks a tenant's bucket; a tenant admin edits rules (bad JSON is a 400
/// with the reason); a tenant viewer sees the history but no editor.
async fn the_flag_page_explains_and_edits(app: TestApp) -> TestApp {
    let admin = app.admin().await;
    let tid = s(&create_tenant(&app, &admin, "Paged").await, "id");
    cli(&app, &["flag", "create", "--key", "portal.beta"]);
    cli(&app, &["flag", "set-rollout", "portal.beta", "30"]);
    let html = page(&app, &admin, "/flags/portal.beta?check=Paged").await;
    for part in [
        "flag-preview",
        "Paged",
        "bucket-result",
        "of 100",
        "rollout none → 30%",
        "created (2 variants)",
    ] {
        assert!(html.contains(part), "platform flag page lacks {part:?}");
    }

    create_user(&app, &admin, "editor@p.io", "tenant_admin", &tid).await;
    create_user(&app, &admin, "reader@p.io", "tenant_viewer", &tid).await;
    let (editor, reader) = (crate::common::client(), crate::common::client());
    app.sign_in(&editor, "editor@p.io", "a-long-password-1")
        .await;
    app.sign_in(&reader, "reader@p.io", "a-long-password-1")
        .await;
    let create = [
        ("tenant", tid.as_str()),
        ("key", "ui.theme"),
        ("kind", "string"),
        ("variants", "light=Light\ndark=Dark"),
        ("description", ""),
    ];
    assert_eq!(app.call(&editor, "create_flag", &create).await.0, 200);
    let tid_ref = tid.as_str();
    let rules = |r: &'static str| [("tenant", tid_ref), ("key", "ui.theme"), ("rules", r)];
    let (status, body) = app.call(&editor, "set_flag_rules", &rules("[{")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("not a list of rules"), "{body}");
    let targets = r#"[{"kind": "targets", "keys": ["vip"], "variant": "dark"}]"#;
    assert_eq!(
        app.call(&reader, "set_flag_rules", &rules(targets)).await.0,
        403
    );
    assert_eq!(
        app.call(&editor, "set_flag_rules", &rules(targets)).await.0,
        200
    );

    let path = format!("/flags/ui.theme?tenant={tid}&check=vip");
    let html = page(&app, &reader, &path).await;
    for part in [
        "targets vip → dark",
        "bucket-result",
        "listed or matched by a rule (rule 1)",
        "flag-history",
        "rules changed (0 → 1)",
    ] {
        assert!(html.contains(part), "tenant flag page lacks {part:?}");
    }
    assert!(!html.contains("Save rules"), "viewers get no editor");
    assert!(page(&app, &editor, &path).await.contains("Save rules"));
    let other = reader
        .get(app.url("/flags/portal.beta"))
        .send()
        .await
        .expect("page");
    assert_eq!(other.status(), 403, "platform flags are not a tenant's");
    app
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    let res = c.get(app.url(path)).send().await.expect("page");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap_or_default()
}

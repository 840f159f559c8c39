//! The Model deployments page through the real server (issue 13), on
//! SQLite and PostgreSQL: a tenant's admin registers and deploys from the
//! page's server functions, its viewer only reads, another tenant's admin
//! is refused, and the page is rendered on the server (before any wasm).

use crate::common::TestApp;
use crate::custom_models::pool_of_three;
use crate::portal::{create_tenant, create_user, s};

on_both_backends!(the_deployments_page_follows_roles,);

async fn the_deployments_page_follows_roles(app: TestApp) -> TestApp {
    let (_engines, _key) = pool_of_three(&app, 0).await;
    let admin = app.admin().await;
    let system = atrium::server::services::Actor::system("test");
    let tid = atrium::server::services::tenants::find(&app.svc, &system, "Lora Co")
        .await
        .expect("tenant")
        .id
        .to_string();
    let other = s(&create_tenant(&app, &admin, "Elsewhere").await, "id");
    create_user(&app, &admin, "owner@lora.io", "tenant_admin", &tid).await;
    create_user(&app, &admin, "viewer@lora.io", "tenant_viewer", &tid).await;
    create_user(&app, &admin, "owner@else.io", "tenant_admin", &other).await;
    let [owner, viewer, stranger] = [(); 3].map(|_| crate::common::client());
    for (c, who) in [
        (&owner, "owner@lora.io"),
        (&viewer, "viewer@lora.io"),
        (&stranger, "owner@else.io"),
    ] {
        assert_eq!(app.sign_in(c, who, "a-long-password-1").await, "/");
    }

    let adapter = crate::lora::lora_co_fixture(&app).await;
    let form = [
        ("tenant", tid.as_str()),
        ("name", "support-bot"),
        ("base_model", "tiny-llama"),
        ("adapter", adapter.as_str()),
    ];
    let (status, m) = app.call(&owner, "register_custom_model", &form).await;
    assert_eq!((status, m["status"].as_str()), (200, Some("ready")), "{m}");
    let outside = [
        ("tenant", tid.as_str()),
        ("name", "probe"),
        ("base_model", "tiny-llama"),
        ("adapter", "/etc"),
    ];
    assert_eq!(
        app.call(&owner, "register_custom_model", &outside).await.0,
        400
    );

    let deploy = [
        ("tenant", tid.as_str()),
        ("model", "support-bot:1"),
        ("action", "deploy"),
    ];
    assert_eq!(
        app.call(&viewer, "custom_model_action", &deploy).await.0,
        403,
        "viewers read only"
    );
    let theirs = [
        ("tenant", tid.as_str()),
        ("model", "support-bot:1"),
        ("action", "deploy"),
    ];
    assert_eq!(
        app.call(&stranger, "custom_model_action", &theirs).await.0,
        404
    );
    assert_eq!(
        app.call(&stranger, "deployments", &[("tenant", tid.as_str())])
            .await
            .0,
        404,
        "another tenant's models are not theirs"
    );
    let bad = [
        ("tenant", tid.as_str()),
        ("model", "support-bot:1"),
        ("action", "explode"),
    ];
    assert_eq!(app.call(&owner, "custom_model_action", &bad).await.0, 400);
    let (status, d) = app.call(&owner, "custom_model_action", &deploy).await;
    assert_eq!(
        (status, d["status"].as_str()),
        (200, Some("deployed")),
        "{d}"
    );

    let (status, view) = app
        .call(&viewer, "deployments", &[("tenant", tid.as_str())])
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["can_manage"], false);
    assert_eq!(view["models"][0]["model"]["status"], "deployed");
    let loaded = view["models"][0]["endpoints"]
        .as_array()
        .map(|e| e.iter().filter(|x| x[2] == true).count());
    assert_eq!(loaded, Some(3), "{view}");
    assert_eq!(
        view["pools"].as_array().map(Vec::len),
        Some(0),
        "pools are the platform's"
    );

    // Server-rendered: the viewer's page lists the version without actions;
    // the platform admin's lists every engine in sync.
    let page = |c: &reqwest::Client, path: String| {
        let req = c.get(app.url(&path));
        async move {
            req.send()
                .await
                .expect("page")
                .text()
                .await
                .unwrap_or_default()
        }
    };
    let html = page(&viewer, format!("/deployments?tenant={tid}")).await;
    assert!(
        html.contains("support-bot:1") && html.contains("3 of 3 loaded"),
        "server-rendered list"
    );
    assert!(
        !html.contains("undeploy-support-bot:1"),
        "no actions for a viewer"
    );
    let owner_html = page(&owner, format!("/deployments?tenant={tid}")).await;
    assert!(
        owner_html.contains("undeploy-support-bot:1"),
        "actions for its admin"
    );
    let platform = page(&admin, "/deployments".into()).await;
    assert_eq!(
        platform.matches(">synced<").count(),
        3,
        "three engines in sync"
    );
    app
}

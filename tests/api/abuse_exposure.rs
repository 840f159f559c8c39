//! Abuse cases (issue 10) about what leaves the platform, on SQLite and
//! PostgreSQL: a provider entry that would carry its credential elsewhere,
//! and responses and files that would expose more than they should.

use serde_json::json;

use crate::abuse::post;
use crate::common::TestApp;
use crate::governance::setup;

on_both_backends!(
    provider_credentials_stay_with_the_provider,
    responses_carry_security_headers_and_files_are_private,
);

/// A provider could read any environment variable (`DATABASE_URL`) as its
/// key, point at a metadata endpoint, or redirect the gateway, credential
/// and all, to another host.
async fn provider_credentials_stay_with_the_provider(app: TestApp) -> TestApp {
    use atrium::domain::catalog::ProviderKind;
    use atrium::server::services::catalog::{self, Credential, NewModel, NewProvider};
    use atrium::server::services::Actor;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let admin = Actor::system("test");
    let provider = |name: &str, base: String, credential| NewProvider {
        name: name.into(),
        kind: ProviderKind::Openai,
        base_url: base,
        region: "any".into(),
        timeout_ms: 5_000,
        credential,
    };
    let env = Credential::Env("DATABASE_URL".into());
    let refused = catalog::add_provider(
        &app.svc,
        &admin,
        provider("env", "https://api.example.com".into(), env),
    )
    .await;
    assert!(refused.is_err(), "a provider key from DATABASE_URL");
    let metadata = provider(
        "meta",
        "https://169.254.169.254/v1".into(),
        Credential::None,
    );
    assert!(catalog::add_provider(&app.svc, &admin, metadata)
        .await
        .is_err());
    let plain = provider(
        "plain",
        "http://api.example.com/v1".into(),
        Credential::None,
    );
    assert!(catalog::add_provider(&app.svc, &admin, plain)
        .await
        .is_err());

    // A provider that redirects: the gateway does not follow.
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let elsewhere = serve(axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "{}" }
    }))
    .await;
    let to = format!("http://{elsewhere}/v1/chat/completions");
    let redirector = serve(axum::Router::new().fallback(move || {
        let to = to.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", to)],
            )
        }
    }))
    .await;
    let secret = Credential::Stored("sk-secret".into());
    let p = provider("redirects", format!("http://{redirector}/v1"), secret);
    catalog::add_provider(&app.svc, &admin, p)
        .await
        .expect("provider");
    let model = NewModel {
        name: "redirected".into(),
        provider: "redirects".into(),
        upstream_model: None,
        price: Default::default(),
        priority: 0,
    };
    catalog::add_model(&app.svc, &admin, model)
        .await
        .expect("model");
    app.svc.refresh_caches().await.expect("refresh");
    let s = setup(&app, "Redirected").await;
    let body = json!({ "model": "redirected", "messages": [{ "role": "user", "content": "x" }] });
    let (status, _) = post(&app, &s.key, "/v1/chat/completions", &body).await;
    assert!(
        status >= 500,
        "a redirect is a provider failure, got {status}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
    app
}

/// Serves `router` on a free local port for the rest of the test.
pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, router).await });
    addr
}

/// Clickjacking, MIME sniffing, referrer leaks; a world-readable database.
async fn responses_carry_security_headers_and_files_are_private(app: TestApp) -> TestApp {
    for path in [
        "/login",
        "/healthz",
        "/v1/models",
        "/ofrep/v1/evaluate/flags/x",
    ] {
        let res = reqwest::get(app.url(path)).await.expect("get");
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        // The gateway sits outside the portal's layers, not outside these.
        assert!(
            h["x-request-id"]
                .to_str()
                .is_ok_and(|v| v.starts_with("req_")),
            "{path}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = &app.svc.config.data_dir;
        let mut files = vec![dir.join("secret.key")];
        if app.svc.db.backend == atrium::server::db::Backend::Sqlite {
            files.push(std::path::PathBuf::from(atrium::server::db::sqlite_path(
                &app.db_url,
            )));
        }
        for f in files {
            let mode = std::fs::metadata(&f).expect("file").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", f.display());
        }
    }
    app
}

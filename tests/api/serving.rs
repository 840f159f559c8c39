//! Serving on the shared runtime (`ATRIUM_SERVE_SHARDS=0`), the fallback
//! to the shards every other test is served by: both APIs, streams, and a
//! signed-in portal page (sign-in reads the peer's address).

use crate::common::{both_configured, Needs, TestApp};
use crate::gateway::{openai_client_both_providers, streaming_in_both_dialects_and_translations};
use atrium::server::config::Config;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let m = "serving";
    let mut out = Vec::new();
    out.extend(both_configured(
        m,
        "completions_on_the_shared_runtime",
        Needs::Nothing,
        shared,
        completions_and_portal,
    ));
    out.extend(both_configured(
        m,
        "streams_on_the_shared_runtime",
        Needs::Nothing,
        shared,
        streaming_in_both_dialects_and_translations,
    ));
    out
}

fn shared(c: &mut Config) {
    c.serve_shards = Some(0);
}

async fn completions_and_portal(app: TestApp) -> TestApp {
    let app = openai_client_both_providers(app).await;
    let admin = app.admin().await;
    let page = admin
        .get(app.url("/tenants"))
        .send()
        .await
        .expect("tenants page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Gateway Co"), "{html}");
    app
}

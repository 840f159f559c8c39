//! Serving on shards (`ATRIUM_SERVE_SHARDS=2`; every other test is served
//! on the shared runtime, the default): both APIs, streams, streams a
//! client abandoned, and a signed-in portal page (sign-in reads the
//! peer's address).

use crate::common::{both_configured, Needs, TestApp};
use crate::gateway::{
    abandoned_streams_are_accounted, openai_client_both_providers,
    streaming_in_both_dialects_and_translations,
};
use atrium::server::config::Config;

pub fn trials() -> Vec<libtest_mimic::Trial> {
    let m = "serving";
    let mut out = Vec::new();
    out.extend(both_configured(
        m,
        "completions_on_shards",
        Needs::Nothing,
        sharded,
        completions_and_portal,
    ));
    out.extend(both_configured(
        m,
        "streams_on_shards",
        Needs::Nothing,
        sharded,
        streaming_in_both_dialects_and_translations,
    ));
    out.extend(both_configured(
        m,
        "abandoned_streams_on_shards",
        Needs::Nothing,
        sharded,
        abandoned_streams_are_accounted,
    ));
    out
}

fn sharded(c: &mut Config) {
    c.serve_shards = 2;
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

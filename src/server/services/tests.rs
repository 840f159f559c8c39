//! Service tests on a real SQLite database: the caches the gateway reads
//! follow every change without being emptied, and cold loads are shared.

use std::sync::Arc;

use crate::domain::catalog::ProviderKind;
use crate::domain::pii::EntityType;
use crate::domain::policy::{Action, Direction, Target};
use crate::domain::pricing::Price;
use crate::domain::tenant::TenantStatus;
use crate::server::services::api_keys::{self, AuthError};
use crate::server::services::catalog::{self, Credential, NewModel, NewProvider};
use crate::server::services::{policies, tenants};
use crate::server::testing;

#[tokio::test]
async fn key_changes_reach_the_cache_without_emptying_it() {
    let f = testing::services().await;
    let t = f.tenant("Acme", 100, 100_000).await;
    let (a, b) = (f.key(&t).await, f.key(&t).await);
    for k in [&a, &b] {
        assert!(api_keys::authenticate(&f.svc, &k.key).await.is_ok());
    }
    api_keys::revoke(&f.svc, &f.admin, &a.api_key.id)
        .await
        .expect("revoke");
    assert_eq!(
        api_keys::authenticate(&f.svc, &a.key).await.err(),
        Some(AuthError::Revoked)
    );
    tenants::set_status(&f.svc, &f.admin, &t.id, TenantStatus::Suspended)
        .await
        .expect("suspend");
    assert_eq!(
        api_keys::authenticate(&f.svc, &b.key).await.err(),
        Some(AuthError::TenantSuspended),
        "the tenant's change reached its cached key"
    );
    tenants::set_status(&f.svc, &f.admin, &t.id, TenantStatus::Active)
        .await
        .expect("resume");
    assert!(api_keys::authenticate(&f.svc, &b.key).await.is_ok());
}

#[tokio::test]
async fn a_cold_key_is_loaded_once_for_all_who_present_it() {
    let f = testing::services().await;
    let t = f.tenant("Busy", 100, 100_000).await;
    let k = f.key(&t).await;
    let calls = (0..32).map(|_| {
        let (svc, key) = (f.svc.clone(), k.key.clone());
        tokio::spawn(async move { api_keys::authenticate(&svc, &key).await })
    });
    let mut loaded = Vec::new();
    for call in calls {
        loaded.push(call.await.expect("join").expect("valid"));
    }
    assert!(
        loaded.iter().all(|a| Arc::ptr_eq(a, &loaded[0])),
        "every request got the one load"
    );
}

#[tokio::test]
async fn policy_changes_are_in_the_snapshot_when_the_call_returns() {
    let f = testing::services().await;
    let (own, other) = (
        f.tenant("Own", 10, 1000).await,
        f.tenant("Other", 10, 1000).await,
    );
    let card = Target::Entity(EntityType::CreditCard);
    policies::add(
        &f.svc,
        &f.admin,
        None,
        card,
        Action::Flag,
        Direction::Prompt,
    )
    .await
    .expect("platform rule");
    let rule = policies::add(
        &f.svc,
        &f.admin,
        Some(&own.id),
        card,
        Action::Block,
        Direction::Prompt,
    )
    .await
    .expect("tenant rule");
    assert_eq!(
        policies::effective(&f.svc, &own.id)[0].action,
        Action::Block
    );
    assert_eq!(
        policies::effective(&f.svc, &other.id)[0].action,
        Action::Flag
    );
    policies::remove(&f.svc, &f.admin, &rule.id)
        .await
        .expect("remove");
    assert_eq!(policies::effective(&f.svc, &own.id)[0].action, Action::Flag);
    assert_eq!(
        policies::list(&f.svc, &f.admin, Some(&own.id))
            .await
            .expect("list")
            .len(),
        0
    );
}

#[tokio::test]
async fn catalog_changes_are_routable_when_the_call_returns() {
    let f = testing::services().await;
    assert!(catalog::snapshot(&f.svc).models.is_empty());
    let provider = NewProvider {
        name: "up".into(),
        kind: ProviderKind::Openai,
        base_url: "http://127.0.0.1:9/v1".into(),
        region: "any".into(),
        timeout_ms: 1000,
        credential: Credential::Stored("sk-secret".into()),
    };
    catalog::add_provider(&f.svc, &f.admin, provider)
        .await
        .expect("provider");
    let model = NewModel {
        name: "m".into(),
        provider: "up".into(),
        upstream_model: None,
        price: Price::default(),
        priority: 0,
    };
    catalog::add_model(&f.svc, &f.admin, model)
        .await
        .expect("model");
    let snapshot = catalog::snapshot(&f.svc);
    let routed = snapshot.resolve("any-tenant", "m").expect("routable");
    assert_eq!(routed.deployments[0].provider.name, "up");
    assert_eq!(
        snapshot.providers["up"].api_key.as_deref(),
        Some("sk-secret"),
        "the sealed secret is opened in memory only"
    );
}

#[tokio::test]
async fn the_first_run_demo_key_expires_in_a_week() {
    use crate::domain::time::{now_millis, DAY};
    use crate::server::services::bootstrap;
    let f = testing::services().await;
    let created = bootstrap::ensure_demo_tenant(&f.svc)
        .await
        .expect("demo")
        .expect("a fresh database gets a demo key");
    let expires = created.api_key.expires_at.expect("the demo key expires");
    let week = bootstrap::DEMO_KEY_DAYS * DAY;
    assert!(
        (expires - (now_millis() + week)).abs() < 60_000,
        "{expires}"
    );
    assert!(
        bootstrap::ensure_demo_tenant(&f.svc)
            .await
            .expect("again")
            .is_none(),
        "only on a fresh database"
    );
}

//! First run: make sure someone can sign in, and that there is something to try.

use crate::domain::api_key::CreatedKey;
use crate::domain::role::Role;
use crate::domain::tenant::{IsolationLevel, TenantSettings, DEFAULT_REGION, DEFAULT_TPM};
use crate::server::crypto::password;

use super::users::{self, NewUser};
use super::{api_keys, tenants, Actor, Result, Services};

pub const DEMO_TENANT: &str = "Demo";
const DEFAULT_ADMIN_EMAIL: &str = "admin@atrium.local";

pub struct FirstAdmin {
    pub email: String,
    /// Present only when Atrium generated it; printed once, never stored.
    pub generated_password: Option<String>,
}

/// Creates the first platform admin when none exists.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ensure_first_admin(svc: &Services) -> Result<Option<FirstAdmin>> {
    if users::platform_admin_exists(svc).await? {
        return Ok(None);
    }
    let email = svc
        .config
        .admin_email
        .clone()
        .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_string());
    let (password, generated) = match &svc.config.admin_password {
        Some(p) if !p.is_empty() => (p.clone(), None),
        _ => {
            let p = password::generate();
            (p.clone(), Some(p))
        }
    };
    let actor = Actor::system("system:first-run");
    let new = NewUser {
        email: &email,
        password: &password,
        role: Role::PlatformAdmin,
        tenant_id: None,
    };
    let user = users::create(svc, &actor, new).await?;
    Ok(Some(FirstAdmin {
        email: user.email,
        generated_password: generated,
    }))
}

/// How long the first-run demo key works.
pub const DEMO_KEY_DAYS: i64 = 7;

/// Creates the demo tenant and one key (expiring after [`DEMO_KEY_DAYS`])
/// on a fresh database.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ensure_demo_tenant(svc: &Services) -> Result<Option<CreatedKey>> {
    if svc.config.no_demo {
        return Ok(None);
    }
    let actor = Actor::system("system:first-run");
    let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(&svc.db.pool)
        .await?;
    if any > 0 {
        return Ok(None);
    }
    let settings = TenantSettings::new(
        DEMO_TENANT,
        IsolationLevel::RowLevel,
        DEFAULT_REGION,
        600,
        DEFAULT_TPM,
    )?;
    let tenant = tenants::create(svc, &actor, settings).await?;
    // A demo key printed to a terminal should not live for ever.
    let key = api_keys::create(svc, &actor, &tenant.id, "demo", Some(DEMO_KEY_DAYS)).await?;
    Ok(Some(key))
}

/// Registers the built-in mock provider as `demo-claude` and `demo-gpt` when
/// the catalog is empty, so the demo key works at once.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ensure_demo_catalog(svc: &Services, mock_addr: &str) -> Result<bool> {
    use super::catalog::{self, Credential, NewModel, NewProvider};
    use crate::domain::catalog::ProviderKind;
    use crate::domain::pricing::Price;
    let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM providers")
        .fetch_one(&svc.db.pool)
        .await?;
    if any > 0 {
        return Ok(false);
    }
    let actor = Actor::system("system:first-run");
    for (name, kind, base, model, input, output) in [
        (
            "demo-anthropic",
            ProviderKind::Anthropic,
            format!("http://{mock_addr}"),
            "demo-claude",
            3_000_000,
            15_000_000,
        ),
        (
            "demo-openai",
            ProviderKind::Openai,
            format!("http://{mock_addr}/v1"),
            "demo-gpt",
            150_000,
            600_000,
        ),
    ] {
        let provider = NewProvider {
            name: name.into(),
            kind,
            base_url: base,
            region: crate::domain::catalog::ANY_REGION.into(),
            timeout_ms: 30_000,
            credential: Credential::None,
        };
        catalog::add_provider(svc, &actor, provider).await?;
        let price = Price {
            input_per_mtok: input,
            output_per_mtok: output,
            ..Default::default()
        };
        let new = NewModel {
            name: model.into(),
            provider: name.into(),
            upstream_model: None,
            price,
            priority: 0,
        };
        catalog::add_model(svc, &actor, new).await?;
    }
    Ok(true)
}

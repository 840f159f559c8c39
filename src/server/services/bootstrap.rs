//! First run: make sure someone can sign in, and that there is something to try.

use crate::domain::api_key::CreatedKey;
use crate::domain::role::Role;
use crate::domain::tenant::{IsolationLevel, TenantSettings, DEFAULT_REGION, DEFAULT_TPM};
use crate::server::auth::password;

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

/// Creates the demo tenant and one key on a fresh database.
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
    let key = api_keys::create(svc, &actor, &tenant.id, "demo", None).await?;
    Ok(Some(key))
}

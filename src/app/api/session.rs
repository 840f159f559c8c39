use crate::domain::tenant::TenantId;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::role::Role;

/// The signed-in user as the UI needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
}

impl Me {
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    /// Whether the audit log is open to this user: platform admins, and
    /// admins of their own tenant.
    pub fn can_read_audit(&self) -> bool {
        match self.tenant_id.as_deref() {
            _ if self.is_platform_admin() => true,
            Some(own) => self.can_manage(own),
            None => false,
        }
    }

    pub fn can_manage(&self, tenant_id: &str) -> bool {
        crate::domain::role::may_access(
            self.role,
            self.tenant_id.as_deref(),
            tenant_id,
            crate::domain::role::Access::Manage,
        )
    }
}

#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    use super::ssr::{current_actor, fail, services};
    let svc = services()?;
    let actor = current_actor(&svc).await.map_err(fail)?;
    Ok(actor.map(|a| Me {
        email: a.label,
        role: a.role,
        tenant_id: a.tenant_id,
    }))
}

/// The outcome of a form this session posted without JavaScript, once.
#[server(endpoint = "take_flash")]
pub async fn take_flash() -> Result<Option<crate::domain::flash::Flash>, ServerFnError> {
    let svc = super::ssr::services()?;
    super::ssr::take_flash(&svc).await.map_err(super::ssr::fail)
}

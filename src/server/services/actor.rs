use crate::domain::role::{may_access, Access, Role};
use crate::domain::tenant::TenantId;

use super::{Result, ServiceError};

/// Who is asking. Every service call takes one, so the role and tenant
/// checks sit beside the data access for every adapter alike.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<String>,
    /// What the audit trail names: an email, `cli`, `system`.
    pub label: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
    pub client_ip: Option<String>,
}

impl Actor {
    /// The operator at the command line, or the server itself: full access.
    pub fn system(label: &str) -> Self {
        Self {
            user_id: None,
            label: label.to_string(),
            role: Role::PlatformAdmin,
            tenant_id: None,
            client_ip: None,
        }
    }

    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    pub fn require_platform_admin(&self) -> Result<()> {
        if self.is_platform_admin() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    pub fn require(&self, tenant_id: &str, access: Access) -> Result<()> {
        if may_access(self.role, self.tenant_id.as_deref(), tenant_id, access) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// The tenant a tenant-bound actor is confined to; `None` for admins.
    pub fn scope(&self) -> Option<&TenantId> {
        if self.is_platform_admin() {
            None
        } else {
            self.tenant_id.as_ref()
        }
    }
}

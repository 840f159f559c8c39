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

/// The audit trail's name for the gateway: its policy decisions (one per
/// redacted, flagged or blocked request) are the bulk of the trail, and
/// PostgreSQL's free-text trigram index leaves them out (migration 34).
pub const GATEWAY: &str = "gateway";

impl Actor {
    /// The gateway writing behind requests (policy decisions, budget
    /// alerts).
    pub fn gateway() -> Self {
        Self::system(GATEWAY)
    }

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

    /// What the audit trail and `created_by` columns name: a portal user
    /// as `user:<id>` (the users row maps it to a person, and erasing the
    /// user ends the mapping), anyone else by their label.
    pub fn audit_name(&self) -> String {
        match &self.user_id {
            Some(id) => format!("user:{id}"),
            None => self.label.clone(),
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

    /// Reads that cross tenants (lists, catalogs, platform dashboards):
    /// platform admins and platform viewers.
    pub fn require_platform_read(&self) -> Result<()> {
        if self.role.is_platform() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    pub fn require(&self, tenant_id: &str, access: Access) -> Result<()> {
        self.require_on(tenant_id, access, "tenant")
    }

    /// As `require`, for an object (`what`) of that tenant. Another
    /// tenant's objects do not exist for a tenant-bound actor: a 403 would
    /// confirm that the id is real, so they answer as `what` not found,
    /// the same as an id nobody holds. Within its own tenant a viewer
    /// asking to change something is forbidden.
    pub fn require_on(&self, tenant_id: &str, access: Access, what: &'static str) -> Result<()> {
        if may_access(self.role, self.tenant_id.as_deref(), tenant_id, access) {
            return Ok(());
        }
        let own = self.tenant_id.as_deref() == Some(tenant_id);
        if self.role.needs_tenant() && !own {
            Err(ServiceError::NotFound(what))
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// The tenant a tenant-bound actor is confined to; `None` for admins.
    /// Fails closed: a tenant role without a tenant sees nothing, rather
    /// than everything.
    pub fn scope(&self) -> Result<Option<&TenantId>> {
        if self.role.is_platform() {
            return Ok(None);
        }
        self.tenant_id
            .as_ref()
            .map(Some)
            .ok_or(ServiceError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_role_without_a_tenant_sees_nothing() {
        let orphan = Actor {
            user_id: None,
            label: "x".into(),
            role: Role::TenantAdmin,
            tenant_id: None,
            client_ip: None,
        };
        assert!(matches!(orphan.scope(), Err(ServiceError::Forbidden)));
        assert!(matches!(Actor::system("cli").scope(), Ok(None)));
    }

    #[test]
    fn another_tenants_objects_are_not_found_and_a_viewers_writes_forbidden() {
        let viewer = Actor {
            user_id: None,
            label: "x".into(),
            role: Role::TenantViewer,
            tenant_id: Some(TenantId::random()),
            client_ip: None,
        };
        let own = viewer.tenant_id.clone().unwrap_or_else(TenantId::random);
        let other = TenantId::random();
        assert!(matches!(
            viewer.require_on(&other, Access::Read, "api key"),
            Err(ServiceError::NotFound("api key"))
        ));
        assert!(matches!(
            viewer.require(&own, Access::Manage),
            Err(ServiceError::Forbidden)
        ));
        assert!(viewer.require(&own, Access::Read).is_ok());
        let reader = Actor {
            role: Role::PlatformViewer,
            tenant_id: None,
            ..viewer
        };
        assert!(reader.require(&other, Access::Read).is_ok());
        assert!(matches!(
            reader.require(&other, Access::Manage),
            Err(ServiceError::Forbidden)
        ));
        assert!(reader.require_platform_admin().is_err());
        assert!(reader.require_platform_read().is_ok());
    }
}

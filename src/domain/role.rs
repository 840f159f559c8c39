use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::validation::Invalid;

/// What a portal user may do. Tenant roles are bound to exactly one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    PlatformAdmin,
    /// Reads every tenant and the platform's settings, changes nothing:
    /// what a `platform:read` admin token acts as (auditors, warehouses).
    PlatformViewer,
    TenantAdmin,
    TenantViewer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::PlatformAdmin,
        Role::PlatformViewer,
        Role::TenantAdmin,
        Role::TenantViewer,
    ];
    /// The roles a portal user can hold; the platform viewer is a token's.
    pub const FOR_USERS: [Role; 3] = [Role::PlatformAdmin, Role::TenantAdmin, Role::TenantViewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::PlatformViewer => "platform_viewer",
            Role::TenantAdmin => "tenant_admin",
            Role::TenantViewer => "tenant_viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "Platform admin",
            Role::PlatformViewer => "Platform viewer",
            Role::TenantAdmin => "Tenant admin",
            Role::TenantViewer => "Tenant viewer",
        }
    }

    pub fn needs_tenant(self) -> bool {
        !matches!(self, Role::PlatformAdmin | Role::PlatformViewer)
    }

    /// Whether the role reaches every tenant (to read at least).
    pub fn is_platform(self) -> bool {
        !self.needs_tenant()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                Invalid::new(
                    "role",
                    "must be platform_admin, platform_viewer, tenant_admin or tenant_viewer",
                )
            })
    }
}

/// The access a request needs on one tenant's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Manage,
}

/// The role rule in one place: platform admins reach every tenant; tenant
/// users reach only their own, and viewers only to read.
pub fn may_access(role: Role, own_tenant: Option<&str>, tenant_id: &str, access: Access) -> bool {
    match role {
        Role::PlatformAdmin => true,
        Role::PlatformViewer => access == Access::Read,
        Role::TenantAdmin => own_tenant == Some(tenant_id),
        Role::TenantViewer => own_tenant == Some(tenant_id) && access == Access::Read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_role() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn platform_admin_reaches_everything() {
        assert!(may_access(Role::PlatformAdmin, None, "t1", Access::Manage));
        assert!(may_access(Role::PlatformViewer, None, "t1", Access::Read));
        assert!(!may_access(
            Role::PlatformViewer,
            None,
            "t1",
            Access::Manage
        ));
    }

    #[test]
    fn tenant_users_stay_in_their_tenant() {
        assert!(may_access(
            Role::TenantAdmin,
            Some("t1"),
            "t1",
            Access::Manage
        ));
        assert!(!may_access(
            Role::TenantAdmin,
            Some("t1"),
            "t2",
            Access::Read
        ));
        assert!(may_access(
            Role::TenantViewer,
            Some("t1"),
            "t1",
            Access::Read
        ));
        assert!(!may_access(
            Role::TenantViewer,
            Some("t1"),
            "t1",
            Access::Manage
        ));
        assert!(!may_access(Role::TenantViewer, None, "t1", Access::Read));
    }
}

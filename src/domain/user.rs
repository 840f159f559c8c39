use serde::{Deserialize, Serialize};

use super::role::Role;
use super::time::Millis;
use super::validation::Invalid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub tenant_id: Option<String>,
    pub tenant_name: Option<String>,
    pub disabled: bool,
    pub created_at: Millis,
}

pub const MIN_PASSWORD_LEN: usize = 12;

/// Emails are compared lower-cased; this is a sanity check, not RFC 5322.
pub fn email(raw: &str) -> Result<String, Invalid> {
    let e = raw.trim().to_ascii_lowercase();
    let bad = || Invalid::new("email", "must be an address like name@example.com");
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && e.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && !domain.contains('@');
    if ok {
        Ok(e)
    } else {
        Err(bad())
    }
}

pub fn password(raw: &str) -> Result<(), Invalid> {
    if raw.chars().count() < MIN_PASSWORD_LEN {
        return Err(Invalid::new(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if raw.len() > 1024 {
        return Err(Invalid::new("password", "is too long"));
    }
    Ok(())
}

/// A tenant role needs its tenant; a platform admin must not have one.
pub fn role_binding(role: Role, tenant_id: Option<&str>) -> Result<(), Invalid> {
    match (role.needs_tenant(), tenant_id) {
        (true, None) => Err(Invalid::new("tenant", "is required for tenant roles")),
        (false, Some(_)) => Err(Invalid::new("tenant", "must be empty for platform admins")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_email() {
        assert_eq!(email(" Ada@Example.COM "), Ok("ada@example.com".into()));
    }

    #[test]
    fn rejects_bad_email() {
        for bad in [
            "", "ada", "ada@", "@x.io", "ada@host", "a b@x.io", "a@x.io.", "a@b@c.io",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_length() {
        assert!(password("short").is_err());
        assert!(password("correct horse battery").is_ok());
    }

    #[test]
    fn binds_roles_to_tenants() {
        assert!(role_binding(Role::TenantViewer, None).is_err());
        assert!(role_binding(Role::PlatformAdmin, Some("t")).is_err());
        assert!(role_binding(Role::TenantAdmin, Some("t")).is_ok());
        assert!(role_binding(Role::PlatformAdmin, None).is_ok());
    }
}

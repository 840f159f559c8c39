use crate::domain::tenant::TenantId;
use serde::{Deserialize, Serialize};

use super::role::Role;
use super::time::Millis;
use super::validation::Invalid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
    pub tenant_name: Option<String>,
    pub disabled: bool,
    pub created_at: Millis,
}

/// A new portal account as any adapter sends it. Never printed whole:
/// the password stays out of logs.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewUserRequest {
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    pub role: Role,
    /// Required for tenant roles, absent for platform admins.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

impl std::fmt::Debug for NewUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserRequest")
            .field("email", &self.email)
            .field("role", &self.role)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

pub const MIN_PASSWORD_LEN: usize = 12;

/// The longest address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A user's e-mail address, checked and lower-cased on construction: what
/// sign-in, the users table and the audit trail compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        email(raw).map(Email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Email::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a sign-in attempt is counted and audited under when the typed
/// address is not one: lower-cased, cut to the longest valid length, so an
/// attacker's input is bounded wherever it is stored.
pub fn attempted_email(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_EMAIL_LEN)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Emails are compared lower-cased; this is a sanity check, not RFC 5322.
fn email(raw: &str) -> Result<String, Invalid> {
    let e = raw.trim().to_ascii_lowercase();
    let bad = || Invalid::new("email", "must be an address like name@example.com");
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && e.len() <= MAX_EMAIL_LEN
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
    fn the_newtype_checks_on_every_way_in() {
        assert_eq!(
            Email::parse("A@B.io").map(|e| e.to_string()),
            Ok("a@b.io".into())
        );
        assert!(serde_json::from_str::<Email>("\"not-an-address\"").is_err());
        let e: Email = serde_json::from_str("\"X@Y.org\"").expect("valid");
        assert_eq!(e.as_str(), "x@y.org");
        let long = format!("{}@example.com\u{0}", "a".repeat(400));
        assert_eq!(attempted_email(&long).chars().count(), MAX_EMAIL_LEN);
        assert!(!attempted_email(&long).contains('\u{0}'));
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

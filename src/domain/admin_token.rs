//! Admin tokens: bearer credentials for the admin REST API, created by a
//! platform admin with one scope. A token acts with the reach of a portal
//! user of the same scope, so every service check applies to it unchanged.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::api_key::{self, KeyStatus};
use super::role::Role;
use super::tenant::TenantId;
use super::time::Millis;
use super::validation::Invalid;

/// Every token reads `atr_adm_<id>_<secret>`; only a SHA-256 of it is kept.
pub const TOKEN_PREFIX: &str = "atr_adm_";
pub const ID_LEN: usize = 16;
pub const SECRET_LEN: usize = 48;
/// Requests per minute when the creator names none.
pub const DEFAULT_RATE_PER_MINUTE: i64 = 600;
pub const MAX_RATE_PER_MINUTE: i64 = 60_000;
pub const MAX_EXPIRY_DAYS: i64 = 3650;
/// Live tokens per deployment: each is a credential someone must review.
pub const MAX_LIVE_TOKENS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Scope {
    #[serde(rename = "platform:read")]
    PlatformRead,
    #[serde(rename = "platform:write")]
    PlatformWrite,
    #[serde(rename = "tenant:read")]
    TenantRead,
    #[serde(rename = "tenant:write")]
    TenantWrite,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::PlatformRead,
        Scope::PlatformWrite,
        Scope::TenantRead,
        Scope::TenantWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PlatformRead => "platform:read",
            Scope::PlatformWrite => "platform:write",
            Scope::TenantRead => "tenant:read",
            Scope::TenantWrite => "tenant:write",
        }
    }

    /// The portal role with the same reach.
    pub fn role(self) -> Role {
        match self {
            Scope::PlatformRead => Role::PlatformViewer,
            Scope::PlatformWrite => Role::PlatformAdmin,
            Scope::TenantRead => Role::TenantViewer,
            Scope::TenantWrite => Role::TenantAdmin,
        }
    }

    pub fn needs_tenant(self) -> bool {
        self.role().needs_tenant()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                Invalid::new(
                    "scope",
                    "must be platform:read, platform:write, tenant:read or tenant:write",
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdminToken {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub tenant_id: Option<TenantId>,
    /// The part safe to show: `atr_adm_<id>`.
    pub prefix: String,
    pub rate_per_minute: i64,
    pub created_by: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl AdminToken {
    pub fn status(&self, now: Millis) -> KeyStatus {
        api_key::status_at(self.revoked_at, self.expires_at, now)
    }
}

/// The one moment the secret exists outside its holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: String,
    #[serde(flatten)]
    pub admin_token: AdminToken,
}

/// What a platform admin asks for, from any adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewAdminToken {
    pub name: String,
    pub scope: Scope,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    #[serde(default)]
    pub rate_per_minute: Option<i64>,
}

impl NewAdminToken {
    /// Checks the fields that need no database: name, expiry, rate, and
    /// that a tenant is named exactly when the scope is a tenant's.
    pub fn check(&self) -> Result<(String, Option<i64>, i64), Invalid> {
        let name = token_name(&self.name)?;
        let days = match self.expires_in_days {
            Some(d) if !(1..=MAX_EXPIRY_DAYS).contains(&d) => {
                return Err(Invalid::new(
                    "expires_in_days",
                    format!("must be 1 to {MAX_EXPIRY_DAYS}"),
                ))
            }
            d => d,
        };
        let rate = self.rate_per_minute.unwrap_or(DEFAULT_RATE_PER_MINUTE);
        if !(1..=MAX_RATE_PER_MINUTE).contains(&rate) {
            return Err(Invalid::new(
                "rate_per_minute",
                format!("must be 1 to {MAX_RATE_PER_MINUTE}"),
            ));
        }
        let named = self.tenant.as_deref().is_some_and(|t| !t.trim().is_empty());
        match (self.scope.needs_tenant(), named) {
            (true, false) => Err(Invalid::new("tenant", "is required for tenant scopes")),
            (false, true) => Err(Invalid::new("tenant", "must be empty for platform scopes")),
            _ => Ok((name, days, rate)),
        }
    }
}

pub fn token_name(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    let plain = name.chars().all(|c| !c.is_control());
    if name.is_empty() || name.chars().count() > 64 || !plain {
        return Err(Invalid::new(
            "name",
            "must be 1 to 64 characters, without control characters",
        ));
    }
    Ok(name.to_string())
}

pub fn compose(id: &str, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}_{secret}")
}

pub fn display_prefix(id: &str) -> String {
    format!("{TOKEN_PREFIX}{id}")
}

/// Splits a presented token into (id, secret) when it has the right shape,
/// so junk is refused before any hashing or lookup.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    api_key::split_token(token, TOKEN_PREFIX, ID_LEN, SECRET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(scope: Scope, tenant: Option<&str>) -> NewAdminToken {
        NewAdminToken {
            name: "ci".into(),
            scope,
            tenant: tenant.map(str::to_string),
            expires_in_days: None,
            rate_per_minute: None,
        }
    }

    #[test]
    fn scopes_parse_and_bind_tenants() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        assert!("platform:admin".parse::<Scope>().is_err());
        assert!(new(Scope::TenantRead, None).check().is_err());
        assert!(new(Scope::PlatformRead, Some("acme")).check().is_err());
        assert!(new(Scope::TenantWrite, Some("acme")).check().is_ok());
        let mut n = new(Scope::PlatformWrite, None);
        n.rate_per_minute = Some(0);
        assert!(n.check().is_err());
        n.rate_per_minute = None;
        n.expires_in_days = Some(0);
        assert!(n.check().is_err());
    }

    #[test]
    fn only_well_formed_tokens_parse() {
        let id = "0123456789abcdef";
        let secret = "a".repeat(SECRET_LEN);
        let t = compose(id, &secret);
        assert_eq!(parse(&t), Some((id, secret.as_str())));
        assert!(parse(&t.to_uppercase()).is_none());
        assert!(parse("atr_0123456789ab_x").is_none());
        assert!(parse(&format!("{t}x")).is_none());
    }
}

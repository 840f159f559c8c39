use crate::domain::tenant::TenantId;
use serde::{Deserialize, Serialize};

use super::time::Millis;
use super::validation::Invalid;

/// Every key reads `atr_<id>_<secret>`: the id finds the row, the secret proves
/// possession. Only a SHA-256 of the whole key is stored.
pub const KEY_PREFIX: &str = "atr_";
pub const ID_LEN: usize = 12;
pub const SECRET_LEN: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Revoked,
    Expired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl ApiKey {
    pub fn status(&self, now: Millis) -> KeyStatus {
        status_at(self.revoked_at, self.expires_at, now)
    }
}

/// The one moment the secret exists outside the client: returned at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedKey {
    pub key: String,
    pub api_key: ApiKey,
}

pub fn compose(id: &str, secret: &str) -> String {
    format!("{KEY_PREFIX}{id}_{secret}")
}

/// The part of a key safe to show in lists.
pub fn display_prefix(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

/// Splits a presented key into (id, secret) when it has the right shape, so
/// junk is rejected before any hashing or lookup.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    split_token(key, KEY_PREFIX, ID_LEN, SECRET_LEN)
}

/// The shape every bearer credential shares, `<prefix><id>_<secret>` in
/// lower-case hex of fixed lengths (API keys, admin tokens).
pub fn split_token<'a>(
    token: &'a str,
    prefix: &str,
    id_len: usize,
    secret_len: usize,
) -> Option<(&'a str, &'a str)> {
    let rest = token.strip_prefix(prefix)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    (id.len() == id_len && secret.len() == secret_len && hex(id) && hex(secret))
        .then_some((id, secret))
}

/// Whether a credential works now: revoked wins over expired.
pub fn status_at(revoked_at: Option<Millis>, expires_at: Option<Millis>, now: Millis) -> KeyStatus {
    if revoked_at.is_some() {
        KeyStatus::Revoked
    } else if expires_at.is_some_and(|e| e <= now) {
        KeyStatus::Expired
    } else {
        KeyStatus::Active
    }
}

pub fn key_name(raw: &str) -> Result<String, Invalid> {
    let n = raw.trim();
    if n.is_empty() {
        return Ok("default".to_string());
    }
    if n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(Invalid::new(
            "name",
            "must be at most 64 printable characters",
        ));
    }
    Ok(n.to_string())
}

pub fn expiry_days(days: Option<i64>) -> Result<Option<i64>, Invalid> {
    match days {
        Some(d) if !(1..=3650).contains(&d) => Err(Invalid::new(
            "expires_in_days",
            "must be between 1 and 3650 days",
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn composed_keys_parse_back() {
        let id = "0123456789ab";
        let secret = "f".repeat(SECRET_LEN);
        let key = compose(id, &secret);
        assert_eq!(parse(&key), Some((id, secret.as_str())));
        assert_eq!(display_prefix(id), "atr_0123456789ab");
    }

    #[test]
    fn junk_does_not_parse() {
        let s = "a".repeat(SECRET_LEN);
        for bad in [
            "".to_string(),
            "sk-123".to_string(),
            format!("atr_0123456789a_{s}"),
            format!("atr_0123456789ab_{}", &s[1..]),
            format!("atr_0123456789AB_{s}"),
            format!("atr_0123456789ab{s}"),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn status_follows_revocation_then_expiry() {
        let mut k = ApiKey {
            id: "x".into(),
            tenant_id: TenantId::parse(T).unwrap(),
            name: "n".into(),
            prefix: "p".into(),
            created_at: 0,
            expires_at: Some(100),
            last_used_at: None,
            revoked_at: None,
        };
        assert_eq!(k.status(50), KeyStatus::Active);
        assert_eq!(k.status(100), KeyStatus::Expired);
        k.revoked_at = Some(10);
        assert_eq!(k.status(50), KeyStatus::Revoked);
    }

    #[test]
    fn names_and_expiry_are_checked() {
        assert_eq!(key_name("  "), Ok("default".into()));
        assert!(key_name(&"k".repeat(65)).is_err());
        assert!(expiry_days(Some(0)).is_err());
        assert_eq!(expiry_days(Some(30)), Ok(Some(30)));
        assert_eq!(expiry_days(None), Ok(None));
    }
}

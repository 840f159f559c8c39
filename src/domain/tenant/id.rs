use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::domain::validation::Invalid;

/// A tenant's id: a hyphenated lower-case UUID. Ids reach SQL, store names
/// and URLs, so one typed from a URL, a form or the CLI is checked once here
/// and every layer after it can rely on the shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let id = raw.trim().to_ascii_lowercase();
        let ok = id.len() == 36
            && id.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if ok {
            Ok(TenantId(id))
        } else {
            Err(Invalid::new("tenant_id", "must be a tenant id (a UUID)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh id for a new tenant.
    #[cfg(feature = "ssr")]
    pub fn random() -> Self {
        TenantId(uuid::Uuid::new_v4().to_string())
    }
}

impl std::ops::Deref for TenantId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by id are looked up with a plain `&str` (the hash of the
/// newtype is the hash of its text).
impl std::borrow::Borrow<str> for TenantId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantId {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        TenantId::parse(s)
    }
}

impl TryFrom<String> for TenantId {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        TenantId::parse(&raw)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for TenantId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// In the admin API's OpenAPI document: a string in UUID format.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for TenantId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".into())))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for TenantId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_uuids() {
        let id = TenantId::parse(" 0F8FAD5B-D9CB-469F-A165-70867728950E ").unwrap();
        assert_eq!(id.as_str(), "0f8fad5b-d9cb-469f-a165-70867728950e");
        for bad in [
            "",
            "x",
            "0f8fad5b_d9cb_469f_a165_70867728950e",
            "'; drop table t; --",
            "0f8fad5b-d9cb-469f-a165-70867728950e0",
            "0f8fad5bd9cb469fa16570867728950e",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
        let json: Result<TenantId, _> = serde_json::from_str("\"../etc\"");
        assert!(json.is_err());
    }
}

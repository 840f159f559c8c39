//! What a caller sends to change the catalog: the same types for the
//! portal, the CLI and the admin API, so no adapter parses on its own.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::kind::ProviderKind;
use crate::domain::pricing::Price;

/// Where a provider's API key comes from.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// No key: a self-hosted engine, or the mock.
    #[default]
    None,
    /// Read from this environment variable (`ATRIUM_PROVIDER_KEY_…`) at call time.
    Env(String),
    /// Sealed in the database; the plaintext is given here once and never shown.
    Stored(String),
}

/// The secret never reaches a log line through `{:?}`.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::None => f.write_str("None"),
            Credential::Env(var) => write!(f, "Env({var})"),
            Credential::Stored(_) => f.write_str("Stored(…)"),
        }
    }
}

fn default_timeout_ms() -> i64 {
    60_000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    /// 2 to 64 letters, digits or `- _ .`.
    pub name: String,
    pub kind: ProviderKind,
    /// `https://…`; plain `http` only on loopback or allowed private hosts.
    pub base_url: String,
    /// The data location it serves; empty or absent: `any`.
    #[serde(default)]
    pub region: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: i64,
    #[serde(default)]
    pub credential: Credential,
}

/// A provider's fields to change; absent ones stay as they are. The name
/// and kind are fixed: deployments and usage name the provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    pub base_url: Option<String>,
    pub region: Option<String>,
    pub timeout_ms: Option<i64>,
    pub credential: Option<Credential>,
}

impl ProviderPatch {
    pub fn is_empty(&self) -> bool {
        self.base_url.is_none()
            && self.region.is_none()
            && self.timeout_ms.is_none()
            && self.credential.is_none()
    }
}

/// A catalog model, or another deployment of an existing one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewModel {
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The provider's name for it; absent: the same as `name`.
    #[serde(default)]
    pub upstream_model: Option<String>,
    pub price: Price,
    /// Lower first among a model's deployments.
    #[serde(default)]
    pub priority: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_secret_is_not_printed() {
        let c = Credential::Stored("sk-very-secret".into());
        assert!(!format!("{c:?}").contains("sk-very"));
        let p: NewProvider = serde_json::from_str(
            r#"{"name":"p1","kind":"openai","base_url":"https://x","credential":{"stored":"sk-1"}}"#,
        )
        .expect("parses");
        assert_eq!(p.credential, Credential::Stored("sk-1".into()));
        assert_eq!(p.timeout_ms, 60_000);
        let unknown = r#"{"name":"p1","kind":"openai","base_url":"https://x","api_key":"k"}"#;
        assert!(serde_json::from_str::<NewProvider>(unknown).is_err());
    }
}

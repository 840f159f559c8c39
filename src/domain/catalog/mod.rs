//! Providers, the model catalog (the price table) and tenant aliases.

mod input;
pub mod kind;

pub use input::{Credential, NewModel, NewProvider, ProviderPatch};
pub use kind::ProviderKind;

use serde::{Deserialize, Serialize};

use crate::domain::completion::ServerTools;
use crate::domain::price::PriceHistory;
use crate::domain::pricing::Price;
use crate::domain::time::Millis;
use crate::domain::validation::Invalid;

/// Providers in this region serve tenants of every data location.
pub const ANY_REGION: &str = "any";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub region: String,
    pub timeout_ms: i64,
    /// Where the secret comes from, for display: `env:VAR`, `stored`, or `none`.
    pub credential: String,
}

impl Provider {
    /// The data-location rule: a tenant reaches only providers in its region.
    pub fn serves_region(&self, data_location: &str) -> bool {
        self.region == ANY_REGION || self.region == data_location
    }

    /// Vendors' conventions: Anthropic's base has no `/v1`, OpenAI's does.
    pub fn endpoint(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match self.kind {
            ProviderKind::Anthropic => format!("{base}/v1/messages"),
            ProviderKind::Openai => format!("{base}/chat/completions"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Deployment {
    pub provider: Provider,
    pub upstream_model: String,
    pub priority: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Model {
    pub id: String,
    pub name: String,
    /// The version in force when the catalog was loaded, for display;
    /// usage is priced with `price_at` the request's time.
    pub price: Price,
    pub prices: PriceHistory,
    pub deployments: Vec<Deployment>,
    pub created_at: i64,
    /// Server-side tools a platform admin allows this model (none by default).
    #[serde(default)]
    pub server_tools: ServerTools,
}

impl Model {
    /// The price in force at `at`. A model always has a version from time
    /// 0 (see migration 0010), so `None` means a damaged catalog.
    pub fn price_at(&self, at: Millis) -> Option<Price> {
        self.prices.at(at).map(|v| v.price)
    }
}

/// A tenant's own name for a catalog model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelAlias {
    pub alias: String,
    /// The catalog model it routes to.
    pub model: String,
    pub created_at: i64,
}

pub fn provider_name(raw: &str) -> Result<String, Invalid> {
    slug("name", raw)
}

pub fn model_name(raw: &str) -> Result<String, Invalid> {
    let n = raw.trim();
    let ok = (1..=128).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@'));
    if ok {
        Ok(n.to_string())
    } else {
        Err(Invalid::new(
            "name",
            "must be 1 to 128 letters, digits or - _ . : / @",
        ))
    }
}

/// 2 to 64 letters, digits or `- _ .`: names people type and URLs carry.
pub fn slug(field: &'static str, raw: &str) -> Result<String, Invalid> {
    let n = raw.trim();
    let ok = (2..=64).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(n.to_string())
    } else {
        Err(Invalid::new(
            field,
            "must be 2 to 64 letters, digits or - _ .",
        ))
    }
}

pub use crate::domain::address::base_url;

/// Provider keys come from variables of this prefix only, so a provider
/// cannot be pointed at `DATABASE_URL` or `ATRIUM_SECRET_KEY` and have the
/// gateway send that secret to its host.
pub const PROVIDER_KEY_PREFIX: &str = "ATRIUM_PROVIDER_KEY_";

pub fn api_key_env(raw: &str) -> Result<String, Invalid> {
    let var = raw.trim();
    let ok = var.len() > PROVIDER_KEY_PREFIX.len()
        && var.starts_with(PROVIDER_KEY_PREFIX)
        && var
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(var.to_string())
    } else {
        Err(Invalid::new(
            "api_key_env",
            format!("must be a variable named {PROVIDER_KEY_PREFIX}<NAME> (A-Z, 0-9, _)"),
        ))
    }
}

pub fn timeout_ms(raw: i64) -> Result<i64, Invalid> {
    if (100..=3_600_000).contains(&raw) {
        Ok(raw)
    } else {
        Err(Invalid::new(
            "timeout_ms",
            "must be between 100 and 3600000",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(kind: ProviderKind, base: &str, region: &str) -> Provider {
        Provider {
            id: "p".into(),
            name: "p".into(),
            kind,
            base_url: base.into(),
            region: region.into(),
            timeout_ms: 1000,
            credential: "none".into(),
        }
    }

    #[test]
    fn endpoints_follow_vendor_conventions() {
        let a = provider(
            ProviderKind::Anthropic,
            "https://api.anthropic.com",
            ANY_REGION,
        );
        assert_eq!(a.endpoint(), "https://api.anthropic.com/v1/messages");
        let o = provider(
            ProviderKind::Openai,
            "http://localhost:8000/v1/",
            ANY_REGION,
        );
        assert_eq!(o.endpoint(), "http://localhost:8000/v1/chat/completions");
    }

    #[test]
    fn region_rule() {
        assert!(provider(ProviderKind::Openai, "http://x", ANY_REGION).serves_region("eu-west"));
        assert!(provider(ProviderKind::Openai, "http://x", "eu-west").serves_region("eu-west"));
        assert!(!provider(ProviderKind::Openai, "http://x", "us-east").serves_region("eu-west"));
    }

    #[test]
    fn validates_names_and_urls() {
        assert!(model_name("claude-sonnet-4@2025").is_ok());
        assert!(model_name("bad name").is_err());
        assert!(provider_name("a").is_err());
        let none: &[String] = &[];
        assert!(base_url("ftp://x", none).is_err());
        assert_eq!(
            base_url("https://h:1/v1/", none),
            Ok("https://h:1/v1".into())
        );
        assert_eq!(
            base_url("http://127.0.0.1:9/v1", none),
            Ok("http://127.0.0.1:9/v1".into())
        );
        assert!(base_url("http://localhost:9", none).is_ok());
        assert!(base_url("http://[::1]:9", none).is_ok());
        assert!(
            base_url("http://api.example.com", none).is_err(),
            "plain http off loopback"
        );
        assert!(
            base_url("https://169.254.169.254/latest", none).is_err(),
            "metadata endpoint"
        );
        assert!(base_url("https://10.0.0.5", none).is_err());
        assert!(base_url("https://[fd00::1]", none).is_err());
        assert!(base_url("https://user:pw@api.example.com", none).is_err());
        let allowed = ["10.0.0.5".to_string()];
        assert!(
            base_url("http://10.0.0.5:8000/v1", &allowed).is_ok(),
            "self-hosted engine"
        );
        assert!(api_key_env("ATRIUM_PROVIDER_KEY_OPENAI").is_ok());
        for bad in [
            "DATABASE_URL",
            "ATRIUM_SECRET_KEY",
            "ATRIUM_PROVIDER_KEY_",
            "ATRIUM_PROVIDER_KEY_a",
        ] {
            assert!(api_key_env(bad).is_err(), "{bad}");
        }
        assert!("azure".parse::<ProviderKind>().is_err());
        assert!(timeout_ms(50).is_err());
    }
}

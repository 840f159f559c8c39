//! Access reviews (SOC 2 CC6.2, CC6.3): an admin attests each portal user
//! and API key of a tenant (or the platform's admins) as still needed, or
//! revokes it; the attestations are evidence.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use super::time::Millis;
use super::validation::Invalid;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    User,
    ApiKey,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::ApiKey => "api_key",
        }
    }
}

impl FromStr for SubjectKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "user" => Ok(SubjectKind::User),
            "api_key" | "key" => Ok(SubjectKind::ApiKey),
            _ => Err(Invalid::new("kind", "must be user or api_key")),
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Still needed.
    Keep,
    /// Not needed: the user is disabled, the key revoked.
    Revoke,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Revoke => "revoke",
        }
    }
}

impl FromStr for Decision {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "keep" => Ok(Decision::Keep),
            "revoke" => Ok(Decision::Revoke),
            _ => Err(Invalid::new("decision", "must be keep or revoke")),
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub kind: SubjectKind,
    pub id: String,
    /// What the reviewer recognises: an e-mail and role, a key's name and prefix.
    pub label: String,
    pub decision: Option<Decision>,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessReview {
    pub id: String,
    pub tenant_id: Option<String>,
    pub started_at: Millis,
    pub started_by: String,
    pub closed_at: Option<Millis>,
    pub items: Vec<ReviewItem>,
}

impl AccessReview {
    pub fn waiting(&self) -> usize {
        self.items.iter().filter(|i| i.decision.is_none()).count()
    }
}

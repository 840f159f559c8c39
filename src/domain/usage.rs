//! What a usage report says: totals and a breakdown by model.

use crate::domain::tenant::TenantId;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::completion::{Dialect, ErrorKind};
use super::pii::Classification;
use super::policy::Action;
use super::pricing::Micros;

/// One request's outcome. `request_id` makes writes idempotent: a retried
/// batch does not count twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub request_id: String,
    pub tenant_id: TenantId,
    pub api_key_id: Option<String>,
    /// What was metered: a completion (tokens) or flag evaluations (units).
    #[serde(default)]
    pub kind: UsageKind,
    /// Evaluations in one OFREP request; 0 for completions.
    #[serde(default)]
    pub units: i64,
    pub model: String,
    pub provider: Option<String>,
    /// The completion dialect; none for flag evaluations.
    pub dialect: Option<Dialect>,
    pub stream: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub latency_ms: i64,
    pub status: u16,
    pub error_type: Option<ErrorKind>,
    pub created_at: i64,
    /// The data policy's decision for the prompt.
    pub policy_action: Action,
    /// The most sensitive classification found in the prompt.
    pub classification: Classification,
}

/// The kinds of usage the ledger meters, each priced on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageKind {
    #[default]
    Completion,
    /// Tenant flags evaluated through OFREP: counted, never tokens.
    FlagEvaluation,
}

impl UsageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Completion => "completion",
            UsageKind::FlagEvaluation => "flag_evaluation",
        }
    }
}

impl std::str::FromStr for UsageKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "completion" => Ok(UsageKind::Completion),
            "flag_evaluation" => Ok(UsageKind::FlagEvaluation),
            other => Err(format!("unknown usage kind {other}")),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: Micros,
    pub errors: i64,
    /// Tenant flag evaluations served through OFREP.
    #[serde(default)]
    pub evaluations: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub totals: UsageTotals,
    pub by_model: BTreeMap<String, UsageTotals>,
}

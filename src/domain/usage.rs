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
    pub model: String,
    pub provider: Option<String>,
    pub dialect: Dialect,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: Micros,
    pub errors: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub totals: UsageTotals,
    pub by_model: BTreeMap<String, UsageTotals>,
}

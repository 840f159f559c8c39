//! What a usage report says: totals and a breakdown by model.

use crate::domain::tenant::TenantId;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::completion::{Dialect, ErrorKind};
use super::pii::{Classification, EntitySet};
use super::policy::Action;
use super::pricing::Micros;
use super::request_log::LogEntry;

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
    /// Evaluations in one OFREP request; for a completion, the uses of
    /// server-side tools the provider reported.
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
    /// When the price version that priced this row took effect: with
    /// `model` (the catalog's own name, never an alias) it names the exact
    /// price used. None when nothing was priced (refused before routing).
    #[serde(default)]
    pub price_from: Option<i64>,
    /// Every PII class detected in the prompt (when the tenant's policies
    /// scan it), acted on or not: the record of processing's categories.
    #[serde(default)]
    pub pii_classes: EntitySet,
    /// The region of the provider that was called.
    #[serde(default)]
    pub provider_region: Option<String>,
    /// The end user the client named (OpenAI `user`, Anthropic
    /// `metadata.user_id`), at most 256 bytes.
    #[serde(default)]
    pub end_user: Option<String>,
    /// What the tenant's request log keeps of this request, when it is on:
    /// written with the event, in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Box<LogEntry>>,
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

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

impl UsageTotals {
    /// Adds another stretch's or model's totals to these.
    pub fn add(&mut self, t: &UsageTotals) {
        // Saturating: a total is never allowed to wrap into a refund.
        self.requests = self.requests.saturating_add(t.requests);
        self.input_tokens = self.input_tokens.saturating_add(t.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(t.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(t.cache_read_tokens);
        self.cache_write_tokens = self.cache_write_tokens.saturating_add(t.cache_write_tokens);
        self.cost_micros = self.cost_micros.saturating_add(t.cost_micros);
        self.errors = self.errors.saturating_add(t.errors);
        self.evaluations = self.evaluations.saturating_add(t.evaluations);
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub totals: UsageTotals,
    pub by_model: BTreeMap<String, UsageTotals>,
}

/// CloudEvents 1.0 `source` of every exported usage event.
pub const CLOUD_EVENT_SOURCE: &str = "/atrium/ledger";

impl UsageEvent {
    /// The event as a CloudEvent (structured JSON). `id` is the request id,
    /// so OpenMeter, Lago or any deduplicating consumer counts a re-export
    /// once; `subject` is the tenant (the customer being metered).
    pub fn to_cloud_event(&self) -> serde_json::Value {
        let time = super::time::rfc3339(self.created_at);
        serde_json::json!({
            "specversion": "1.0",
            "id": self.request_id,
            "source": CLOUD_EVENT_SOURCE,
            "type": format!("io.atrium.{}", self.kind.as_str()),
            "subject": self.tenant_id,
            "time": time,
            "datacontenttype": "application/json",
            "data": {
                "api_key_id": self.api_key_id,
                "model": self.model,
                "provider": self.provider,
                "dialect": self.dialect.map(|d| d.as_str()),
                "stream": self.stream,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens,
                "cache_write_tokens": self.cache_write_tokens,
                "evaluations": if self.kind == UsageKind::FlagEvaluation { self.units } else { 0 },
                "server_tool_uses": if self.kind == UsageKind::Completion { self.units } else { 0 },
                "cost_micros": self.cost_micros,
                "price_from": self.price_from,
                "provider_region": self.provider_region,
                "pii_classes": self.pii_classes.types().map(|t| t.as_str()).collect::<Vec<_>>(),
                "status": self.status,
                "latency_ms": self.latency_ms,
            }
        })
    }
}

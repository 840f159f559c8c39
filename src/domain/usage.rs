//! What a usage report says: totals and a breakdown by model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pricing::Micros;

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

//! Invoices: one per tenant and calendar month (UTC). A draft is computed
//! live from the ledger while the month is open; once the month has closed
//! and a grace period for late events has passed it is issued: numbered
//! (`ATR-2026-11-0001`), its lines stored, and never changed again. Usage
//! recorded for an issued month later goes on the next invoice, as a line
//! of its own.

mod lines;
mod meters;
mod month;

pub use lines::{lines, Inputs, Late, Slice};
pub use month::Month;

use serde::{Deserialize, Serialize};

use super::pricing::Micros;
use super::tenant::TenantId;
use super::time::Millis;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvoiceStatus {
    /// The month is open, or within its grace period: totals move.
    Draft,
    /// Closed, numbered and stored: never changes.
    Issued,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Issued => "issued",
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineKind {
    BaseFee,
    /// Tokens of one kind for one model at one price version.
    Usage,
    /// The ledger rounds each request's cost once; the difference to the
    /// per-line amounts, so the usage lines add up to the ledger exactly.
    Rounding,
    Requests,
    Evaluations,
    /// Data stored, sampled daily, priced per GB-month by the plan.
    Storage,
    /// Custom models deployed, sampled daily, priced per model-month.
    CustomModels,
    /// Custom models' own monthly hosting fees, for the days deployed.
    HostingFees,
    /// A plan's markup (or discount, negative) on a model's usage.
    Markup,
    /// Usage recorded for an earlier, issued month after it was issued.
    LateUsage,
    Credit,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::BaseFee => "base_fee",
            LineKind::Usage => "usage",
            LineKind::Rounding => "rounding",
            LineKind::Requests => "requests",
            LineKind::Evaluations => "evaluations",
            LineKind::Storage => "storage",
            LineKind::CustomModels => "custom_models",
            LineKind::HostingFees => "hosting_fees",
            LineKind::Markup => "markup",
            LineKind::LateUsage => "late_usage",
            LineKind::Credit => "credit",
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: LineKind,
    pub description: String,
    pub quantity: i64,
    /// What `unit` of the quantity costs (tokens: per million), when the
    /// line is a quantity times a price.
    pub unit_price_micros: Option<Micros>,
    pub unit: String,
    pub amount_micros: Micros,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub month: Month,
    pub status: InvoiceStatus,
    pub number: Option<String>,
    pub issued_at: Option<Millis>,
    pub lines: Vec<InvoiceLine>,
    /// The ledger's cost for the month when the invoice was made: what
    /// the usage lines add up to.
    pub usage_micros: Micros,
    /// Late usage this invoice carries, by the month it belongs to: pairs
    /// of `["YYYY-MM", micros]`.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<serde_json::Value>>))]
    pub late: Vec<(Month, Micros)>,
    pub total_micros: Micros,
}

impl Invoice {
    /// `ATR-2026-11-0001`: the month and its issue order across tenants.
    pub fn number_for(month: Month, seq: i64) -> String {
        format!("ATR-{month}-{seq:04}")
    }

    /// The invoice as CSV: one row per line, then the total.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("kind,description,quantity,unit,unit_price_usd,amount_usd\n");
        let usd = |m: Micros| {
            super::pricing::format_usd(m)
                .trim_start_matches('$')
                .to_string()
        };
        for l in &self.lines {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                l.kind.as_str(),
                super::csv::cell(&l.description),
                l.quantity,
                super::csv::cell(&l.unit),
                l.unit_price_micros.map(usd).unwrap_or_default(),
                usd(l.amount_micros)
            ));
        }
        out.push_str(&format!("total,,,,,{}\n", usd(self.total_micros)));
        out
    }
}

#[cfg(test)]
mod tests;

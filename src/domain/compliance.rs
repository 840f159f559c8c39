//! Compliance reports (issue 22): their kinds, the signed document every
//! report is issued as, and where a region's data is under law.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

use super::time::Millis;
use super::validation::Invalid;

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// GDPR Art. 30(1): the tenant's record of processing, as controller.
    Ropa,
    /// GDPR Art. 30(2): the operator's record, as processor.
    Processor,
    /// GDPR Art. 15 and 20: everything held about one subject.
    Access,
    /// GDPR Art. 17: what an erasure removed (a receipt).
    Erasure,
    /// SOC 2 evidence: access, MFA, monitoring, change, audit integrity.
    Soc2,
}

impl ReportKind {
    pub const ALL: [ReportKind; 5] = [
        ReportKind::Ropa,
        ReportKind::Processor,
        ReportKind::Access,
        ReportKind::Erasure,
        ReportKind::Soc2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Ropa => "ropa",
            ReportKind::Processor => "processor",
            ReportKind::Access => "access",
            ReportKind::Erasure => "erasure",
            ReportKind::Soc2 => "soc2",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ReportKind::Ropa => "Record of processing (Art. 30(1))",
            ReportKind::Processor => "Processor record (Art. 30(2))",
            ReportKind::Access => "Access and portability (Art. 15, 20)",
            ReportKind::Erasure => "Erasure receipt (Art. 17)",
            ReportKind::Soc2 => "SOC 2 evidence (CC6, CC7.2, CC8.1)",
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportKind {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        ReportKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new("kind", "must be ropa, processor, access or soc2"))
    }
}

/// A report's period: `[from, to)` in milliseconds, with the inclusive
/// days it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: Millis,
    pub to: Millis,
    pub from_day: String,
    pub to_day: String,
}

impl Period {
    /// Inclusive `YYYY-MM-DD` days, as `audit export` takes them.
    pub fn days(from: &str, to: &str) -> Result<Self, Invalid> {
        let start = super::time::parse_day_or_time(from.trim())
            .ok_or_else(|| Invalid::new("from", "must be a date YYYY-MM-DD"))?;
        let end = super::time::range_end(to.trim())
            .ok_or_else(|| Invalid::new("to", "must be a date YYYY-MM-DD"))?;
        if end <= start {
            return Err(Invalid::new("to", "must not be before from"));
        }
        Ok(Period {
            from: start,
            to: end,
            from_day: from.trim().to_string(),
            to_day: to.trim().to_string(),
        })
    }
}

/// How a report is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Html,
    Csv,
    /// SOC 2 only: one CSV per control and the JSON, zipped.
    Zip,
}

impl FromStr for Format {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            "csv" => Ok(Format::Csv),
            "zip" => Ok(Format::Zip),
            _ => Err(Invalid::new("format", "must be json, html, csv or zip")),
        }
    }
}

/// A stored report as lists show it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub id: String,
    pub kind: ReportKind,
    pub tenant_id: Option<String>,
    pub period_from: Millis,
    pub period_to: Millis,
    pub created_at: Millis,
    pub created_by: String,
    pub body_sha256: String,
}

/// Canonical JSON: keys sorted (serde_json's map is ordered), no
/// whitespace. What is hashed and signed.
pub fn canonical(v: &Value) -> String {
    v.to_string()
}

/// Where a region's data sits under law: an ISO 3166-1 country code, or
/// `EU`, read from the region's prefix (`eu-west` → EU, `us-east` → US).
/// `None` for region `any`: such a provider is unpinned, and reported as
/// a transfer wherever the tenant is.
pub fn jurisdiction(region: &str) -> Option<String> {
    if region == super::catalog::ANY_REGION {
        return None;
    }
    let prefix = region.split('-').next().unwrap_or(region);
    let code = match prefix {
        "eu" | "europe" => "EU",
        "eea" => "EEA",
        "uk" | "gb" => "GB",
        "us" => "US",
        p if p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()) => {
            return Some(p.to_ascii_uppercase())
        }
        _ => "unknown",
    };
    Some(code.to_string())
}

/// Whether data moved from `home` to `recipient` leaves the tenant's
/// jurisdiction (EU and EEA members count as one area for EU tenants).
pub fn is_transfer(home: Option<&str>, recipient: Option<&str>) -> bool {
    match (home, recipient) {
        (_, None) => true,
        (Some(h), Some(r)) => {
            let area = |j: &str| matches!(j, "EU" | "EEA");
            !(h == r || (area(h) && area(r)))
        }
        (None, Some(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_have_jurisdictions_and_any_is_unpinned() {
        assert_eq!(jurisdiction("eu-west").as_deref(), Some("EU"));
        assert_eq!(jurisdiction("us-east").as_deref(), Some("US"));
        assert_eq!(jurisdiction("uk-south").as_deref(), Some("GB"));
        assert_eq!(jurisdiction("ch-zurich").as_deref(), Some("CH"));
        assert_eq!(jurisdiction("any"), None);
        assert!(is_transfer(Some("EU"), None));
        assert!(is_transfer(Some("EU"), Some("US")));
        assert!(!is_transfer(Some("EU"), Some("EEA")));
        assert!(!is_transfer(Some("US"), Some("US")));
    }

    #[test]
    fn periods_are_inclusive_days() {
        let p = Period::days("2026-01-01", "2026-01-01").expect("one day");
        assert_eq!(p.to - p.from, 86_400_000);
        assert!(Period::days("2026-01-02", "2026-01-01").is_err());
        assert!(Period::days("soon", "2026-01-01").is_err());
    }
}

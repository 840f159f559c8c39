use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::request_log::LogSettings;
use super::time::Millis;

mod id;
mod input;
use super::validation::Invalid;
pub use id::TenantId;
pub use input::{NewTenant, TenantPatch};

/// Where a tenant's usage data lives (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum IsolationLevel {
    RowLevel,
    SchemaPerTenant,
    DatabasePerTenant,
}

impl IsolationLevel {
    pub const ALL: [IsolationLevel; 3] = [
        IsolationLevel::RowLevel,
        IsolationLevel::SchemaPerTenant,
        IsolationLevel::DatabasePerTenant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IsolationLevel::RowLevel => "row_level",
            IsolationLevel::SchemaPerTenant => "schema_per_tenant",
            IsolationLevel::DatabasePerTenant => "database_per_tenant",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IsolationLevel::RowLevel => "Row level (shared tables)",
            IsolationLevel::SchemaPerTenant => "Schema per tenant",
            IsolationLevel::DatabasePerTenant => "Database per tenant",
        }
    }
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IsolationLevel {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().replace('-', "_");
        IsolationLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "isolation",
                    "must be row_level, schema_per_tenant or database_per_tenant",
                )
            })
    }
}

/// Where a tenant's data lives and how much there is of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TenantData {
    pub level: IsolationLevel,
    /// What an operator looks for: a schema, a database, a file, or the shared table.
    pub location: String,
    /// Set while the data moves to another level.
    pub moving_to: Option<IsolationLevel>,
    pub bytes: Option<i64>,
    /// Rows per tenant table, as `[table, rows]` pairs.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<Object>>))]
    pub rows: Vec<(String, i64)>,
}

/// What a move of a tenant's data to another isolation level did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MoveReport {
    pub from: IsolationLevel,
    pub to: IsolationLevel,
    pub from_location: String,
    pub to_location: String,
    pub rows_copied: u64,
    pub source_rows: i64,
    pub target_rows: i64,
    pub source_rows_erased: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub isolation: IsolationLevel,
    pub data_location: String,
    pub rpm_limit: i64,
    pub tpm_limit: i64,
    pub status: TenantStatus,
    /// Audit events older than this many days are purged; `None` keeps them.
    pub audit_retention_days: Option<i64>,
    /// The name of the plan the tenant is on, if any (platform flags may
    /// target it as the `plan` attribute).
    #[serde(default)]
    pub plan: Option<String>,
    /// The opt-in request log (compliance).
    #[serde(default)]
    pub request_log: LogSettings,
    /// Who the tenant is as a controller, and its DPO (GDPR Art. 30(1)(a)).
    #[serde(default)]
    pub controller_contact: Option<String>,
    #[serde(default)]
    pub dpo_contact: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Counts changes to the row: the admin API's ETag, so an update
    /// based on a stale read is refused rather than silently applied.
    #[serde(default)]
    pub revision: i64,
}

impl Tenant {
    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}

/// What the tenant list sorts by (`sort=name|created` in the URL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantSort {
    #[default]
    Name,
    Created,
}

impl TenantSort {
    /// Unknown keys read as the default: a hand-edited URL still works.
    pub fn parse(s: &str) -> Self {
        match s {
            "created" => TenantSort::Created,
            _ => TenantSort::Name,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TenantSort::Name => "name",
            TenantSort::Created => "created",
        }
    }
}

pub const DEFAULT_RPM: i64 = 600;
pub const DEFAULT_TPM: i64 = 200_000;
pub const DEFAULT_REGION: &str = "eu-west";
const MAX_LIMIT: i64 = 1_000_000_000;

/// The editable settings of a tenant, validated on construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSettings {
    pub name: String,
    pub isolation: IsolationLevel,
    pub data_location: String,
    pub rpm_limit: i64,
    pub tpm_limit: i64,
}

impl TenantSettings {
    pub fn new(
        name: &str,
        isolation: IsolationLevel,
        data_location: &str,
        rpm_limit: i64,
        tpm_limit: i64,
    ) -> Result<Self, Invalid> {
        Ok(Self {
            name: tenant_name(name)?,
            isolation,
            data_location: region(data_location)?,
            rpm_limit: limit("rpm_limit", rpm_limit)?,
            tpm_limit: limit("tpm_limit", tpm_limit)?,
        })
    }
}

/// Names are shown everywhere and typed on the CLI, so keep them plain.
pub fn tenant_name(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.len() < 2 || name.len() > 64 {
        return Err(Invalid::new("name", "must be 2 to 64 characters"));
    }
    let ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '&'));
    if !ok || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Invalid::new(
            "name",
            "must start with a letter or digit and use only letters, digits, spaces and - _ . &",
        ));
    }
    Ok(name.to_string())
}

/// The key that makes names unique regardless of case and spacing.
pub fn name_key(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

pub fn region(raw: &str) -> Result<String, Invalid> {
    let r = raw.trim().to_ascii_lowercase();
    let ok =
        (2..=32).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        return Err(Invalid::new(
            "data_location",
            "must be a region code such as eu-west or us-east (2 to 32 letters, digits, -)",
        ));
    }
    Ok(r)
}

fn limit(field: &'static str, value: i64) -> Result<i64, Invalid> {
    if !(1..=MAX_LIMIT).contains(&value) {
        return Err(Invalid::new(
            field,
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &str) -> Result<TenantSettings, Invalid> {
        TenantSettings::new(name, IsolationLevel::RowLevel, "eu-west", 60, 1000)
    }

    #[test]
    fn accepts_plain_names() {
        assert_eq!(
            settings("  Acme Corp ").map(|s| s.name),
            Ok("Acme Corp".into())
        );
        assert!(settings("R&D-2.0").is_ok());
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "a", "-acme", "<script>", &"x".repeat(65)] {
            assert_eq!(settings(bad).map_err(|e| e.field), Err("name"), "{bad}");
        }
    }

    #[test]
    fn validates_limits_and_region() {
        let e = TenantSettings::new("Acme", IsolationLevel::RowLevel, "eu west", 60, 1);
        assert_eq!(e.map_err(|e| e.field), Err("data_location"));
        let e = TenantSettings::new("Acme", IsolationLevel::RowLevel, "eu", 0, 1);
        assert_eq!(e.map_err(|e| e.field), Err("rpm_limit"));
        let e = TenantSettings::new("Acme", IsolationLevel::RowLevel, "eu", 1, -5);
        assert_eq!(e.map_err(|e| e.field), Err("tpm_limit"));
    }

    #[test]
    fn isolation_levels_parse() {
        for l in IsolationLevel::ALL {
            assert_eq!(l.as_str().parse::<IsolationLevel>(), Ok(l));
        }
        assert_eq!(
            "schema-per-tenant".parse(),
            Ok(IsolationLevel::SchemaPerTenant)
        );
        assert!("none".parse::<IsolationLevel>().is_err());
    }

    #[test]
    fn name_key_ignores_case() {
        assert_eq!(name_key(" Acme "), name_key("ACME"));
    }
}

/// Headline numbers for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantCounts {
    pub tenants: i64,
    pub active_tenants: i64,
    pub active_keys: i64,
    pub users: i64,
}

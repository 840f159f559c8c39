//! What callers send to create or change a tenant, as one type for every
//! adapter (portal, CLI, admin API); checked into `TenantSettings`.

use serde::{Deserialize, Serialize};

use super::{IsolationLevel, Tenant, TenantSettings, DEFAULT_RPM, DEFAULT_TPM};
use crate::domain::validation::Invalid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewTenant {
    pub name: String,
    #[serde(default)]
    pub isolation: Option<IsolationLevel>,
    /// The region its data and traffic stay in, or `any`.
    #[serde(default)]
    pub data_location: Option<String>,
    #[serde(default)]
    pub rpm_limit: Option<i64>,
    #[serde(default)]
    pub tpm_limit: Option<i64>,
}

impl NewTenant {
    pub fn settings(&self) -> Result<TenantSettings, Invalid> {
        TenantSettings::new(
            &self.name,
            self.isolation.unwrap_or(IsolationLevel::RowLevel),
            self.data_location.as_deref().unwrap_or("any"),
            self.rpm_limit.unwrap_or(DEFAULT_RPM),
            self.tpm_limit.unwrap_or(DEFAULT_TPM),
        )
    }
}

/// A partial update: absent fields keep their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub data_location: Option<String>,
    #[serde(default)]
    pub rpm_limit: Option<i64>,
    #[serde(default)]
    pub tpm_limit: Option<i64>,
}

impl TenantPatch {
    /// The tenant's settings with this patch applied, checked.
    pub fn apply(&self, to: &Tenant) -> Result<TenantSettings, Invalid> {
        TenantSettings::new(
            self.name.as_deref().unwrap_or(&to.name),
            to.isolation,
            self.data_location.as_deref().unwrap_or(&to.data_location),
            self.rpm_limit.unwrap_or(to.rpm_limit),
            self.tpm_limit.unwrap_or(to.tpm_limit),
        )
    }
}

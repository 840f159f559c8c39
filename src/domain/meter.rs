//! Meters that are not requests: what a tenant keeps rather than what it
//! calls. Each is sampled once a day per tenant (the first sample of a UTC
//! day stands) and priced by the tenant's plan per unit-month: a month's
//! charge is the sum of its daily samples over the days in the month, so a
//! tenant that held 10 GB for half of a 30-day month pays for 5 GB-months.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::time::Millis;

pub const DAY_MS: Millis = 86_400_000;

/// Bytes in the GB that storage is priced per (decimal, as clouds bill).
pub const BYTES_PER_GB: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meter {
    /// Bytes the tenant's data takes in its store.
    StorageBytes,
    /// Custom (LoRA) models the tenant has deployed.
    CustomModels,
    /// The monthly hosting fees of the custom models deployed that day, in
    /// micro-dollars per month (billed as each day's share of its month).
    HostingFees,
}

impl Meter {
    pub const ALL: [Meter; 3] = [Meter::StorageBytes, Meter::CustomModels, Meter::HostingFees];

    pub fn as_str(self) -> &'static str {
        match self {
            Meter::StorageBytes => "storage_bytes",
            Meter::CustomModels => "custom_models",
            Meter::HostingFees => "hosting_fees",
        }
    }
}

impl FromStr for Meter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Meter::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown meter {s}"))
    }
}

/// One day's reading of one meter for one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub meter: Meter,
    /// The UTC midnight the day starts at.
    pub day: Millis,
    pub value: i64,
}

/// The UTC midnight that starts the day `at` is in.
pub fn day_of(at: Millis) -> Millis {
    at.div_euclid(DAY_MS) * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_utc_midnight() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MS - 1), 0);
        assert_eq!(day_of(DAY_MS), DAY_MS);
        assert_eq!(day_of(-1), -DAY_MS);
    }

    #[test]
    fn meters_read_back_from_their_names() {
        for m in Meter::ALL {
            assert_eq!(m.as_str().parse::<Meter>(), Ok(m));
        }
        assert!("disk".parse::<Meter>().is_err());
    }
}

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
    /// Custom (LoRA) models the tenant served: model-hours in the day.
    CustomModels,
    /// The monthly hosting fees of the custom models served that day, each
    /// times its hours served (billed as each hour's share of its month).
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

pub const HOUR_MS: Millis = 3_600_000;
/// Hours in a day: custom models are metered by the hour.
pub const HOURS_PER_DAY: i64 = 24;

/// One stretch of a custom model version being served (deployed or
/// deprecated), from its deploy to its undeploy or retirement; `to` is
/// `None` while it is still served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub version: String,
    /// Its monthly hosting fee, in micro-dollars.
    pub fee: i64,
    pub from: Millis,
    pub to: Option<Millis>,
}

/// Custom-model samples of the days in `[from, to)`, from what was served:
/// a version pays every clock hour (UTC) it was served during any part of,
/// once however often it was deployed and undeployed within it, so no
/// schedule around a sampling moment dodges the fee. Days before `since`
/// (the tenant's creation) are left out; every other day has both
/// samples, 0 when nothing was served. `now` closes stretches still open.
pub fn served_samples(
    served: &[Served],
    from: Millis,
    to: Millis,
    since: Millis,
    now: Millis,
) -> Vec<Sample> {
    use std::collections::{BTreeMap, BTreeSet};
    // (version, hour) pairs, each once, with the version's fee.
    let mut hours: BTreeSet<(Millis, &str)> = BTreeSet::new();
    let mut fees: BTreeMap<&str, i64> = BTreeMap::new();
    for s in served {
        let start = s.from.max(from).div_euclid(HOUR_MS) * HOUR_MS;
        let end = s.to.unwrap_or(now).min(to).min(now);
        let mut h = start;
        while h < end {
            hours.insert((h, s.version.as_str()));
            h += HOUR_MS;
        }
        fees.insert(s.version.as_str(), s.fee.max(0));
    }
    let mut out = Vec::new();
    let mut day = day_of(from.max(since));
    while day < to.min(now) {
        let in_day = hours.range((day, "")..(day + DAY_MS, ""));
        let (mut count, mut fee_hours) = (0i64, 0i64);
        for (_, version) in in_day {
            count += 1;
            fee_hours = fee_hours.saturating_add(fees.get(version).copied().unwrap_or(0));
        }
        out.push(Sample {
            meter: Meter::CustomModels,
            day,
            value: count,
        });
        out.push(Sample {
            meter: Meter::HostingFees,
            day,
            value: fee_hours,
        });
        day += DAY_MS;
    }
    out
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
    fn served_versions_pay_every_hour_they_touch_once() {
        let h = HOUR_MS;
        let served = [
            // Deployed 00:30 to 02:10: hours 0, 1 and 2.
            Served {
                version: "a".into(),
                fee: 10,
                from: h / 2,
                to: Some(2 * h + h / 6),
            },
            // A cron undeploying around a moment: twice within hour 5, once.
            Served {
                version: "b".into(),
                fee: 100,
                from: 5 * h,
                to: Some(5 * h + 60_000),
            },
            Served {
                version: "b".into(),
                fee: 100,
                from: 5 * h + 120_000,
                to: Some(5 * h + 180_000),
            },
            // Still served: to now (the first hour of day 2).
            Served {
                version: "c".into(),
                fee: 1,
                from: DAY_MS - h,
                to: None,
            },
        ];
        let now = DAY_MS + h / 2;
        let out = served_samples(&served, 0, 2 * DAY_MS, 0, now);
        let value = |meter, day| {
            out.iter()
                .find(|s| s.meter == meter && s.day == day)
                .map(|s| s.value)
        };
        assert_eq!(value(Meter::CustomModels, 0), Some(3 + 1 + 1));
        assert_eq!(value(Meter::HostingFees, 0), Some(30 + 100 + 1));
        assert_eq!(value(Meter::CustomModels, DAY_MS), Some(1));
        assert_eq!(out.len(), 4, "two days up to now, both meters each");
        assert!(served_samples(&served, 0, 2 * DAY_MS, 2 * DAY_MS, now).is_empty());
    }

    #[test]
    fn meters_read_back_from_their_names() {
        for m in Meter::ALL {
            assert_eq!(m.as_str().parse::<Meter>(), Ok(m));
        }
        assert!("disk".parse::<Meter>().is_err());
    }
}

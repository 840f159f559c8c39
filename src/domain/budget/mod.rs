//! Budgets: a spending limit for a tenant or one of its API keys, per
//! calendar month (UTC) or per rolling N days. A hard budget refuses a
//! request whose worst-case cost would cross it; a soft one only alerts, at
//! 50, 80 and 100 percent. Spend is kept per UTC day, so both kinds of
//! period are sums of whole days.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::completion::Exposure;
use super::pricing::{format_money, request_cost, Micros, Price, TokenCounts};
use super::tenant::TenantId;
use super::time::{Millis, DAY};
use super::validation::Invalid;

/// The percentages at which a soft budget alerts, once each per period.
pub const ALERT_THRESHOLDS: [u8; 3] = [50, 80, 100];

/// Under a hard budget, the output limit a request that sets none is held
/// to, so its worst case is known.
pub const UNBOUNDED_OUTPUT_CAP: i64 = 4096;

/// Longest rolling period: a year and a day.
pub const MAX_DAYS: u32 = 366;

/// A UTC day as days since 1970-01-01.
pub type Day = i64;

pub fn day_of(ms: Millis) -> Day {
    ms.div_euclid(DAY)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Period {
    /// The calendar month, UTC.
    Month,
    /// The last N UTC days, today included.
    Days(u32),
}

impl Period {
    /// The first and last day (inclusive) of the period containing `now`.
    pub fn days(self, now: Millis) -> (Day, Day) {
        let today = day_of(now);
        match self {
            Period::Days(n) => (today - i64::from(n.max(1)) + 1, today),
            Period::Month => {
                let date =
                    DateTime::from_timestamp_millis(now).map_or(NaiveDate::MIN, |d| d.date_naive());
                let first = date.with_day(1).unwrap_or(date);
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
                ((first - epoch).num_days(), today)
            }
        }
    }

    /// The period as `[from, to)` in milliseconds, to `now`'s day end.
    pub fn window(self, now: Millis) -> (Millis, Millis) {
        let (first, last) = self.days(now);
        (first * DAY, (last + 1) * DAY)
    }

    pub fn describe(self) -> String {
        match self {
            Period::Month => "calendar month (UTC)".into(),
            Period::Days(1) => "day (UTC)".into(),
            Period::Days(n) => format!("rolling {n} days (UTC days)"),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month => f.write_str("month"),
            Period::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl FromStr for Period {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("month") {
            return Ok(Period::Month);
        }
        let bad = || Invalid::new("period", "month, or a number of days like 7d (1 to 366)");
        let n: u32 = s
            .strip_suffix('d')
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        if (1..=MAX_DAYS).contains(&n) {
            Ok(Period::Days(n))
        } else {
            Err(bad())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Enforcement {
    /// Refuses requests that could cross the limit.
    Hard,
    /// Alerts at the thresholds; never refuses.
    Soft,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Hard => "hard",
            Enforcement::Soft => "soft",
        }
    }
}

impl FromStr for Enforcement {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "hard" => Ok(Enforcement::Hard),
            "soft" => Ok(Enforcement::Soft),
            _ => Err(Invalid::new("enforcement", "hard or soft")),
        }
    }
}

/// A budget as an admin describes it, from any adapter; `tenant` is a
/// tenant's id or name, `api_key` a key's id or name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetSpec {
    /// In the admin API the tenant is the path's, and this is ignored.
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub api_key: Option<String>,
    pub limit_micros: Micros,
    pub period: Period,
    pub enforcement: Enforcement,
    #[serde(default)]
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Budget {
    pub id: String,
    pub tenant_id: TenantId,
    /// `None`: the whole tenant's spend; otherwise one key's.
    pub api_key_id: Option<String>,
    /// The key's name, for messages (set when `api_key_id` is).
    pub api_key_name: Option<String>,
    pub limit_micros: Micros,
    pub period: Period,
    pub enforcement: Enforcement,
    /// Where a soft budget's alerts are POSTed, signed.
    pub webhook_url: Option<String>,
    pub updated_at: Millis,
}

impl Budget {
    /// Limits from one cent to $1B.
    pub fn check(&self) -> Result<(), Invalid> {
        if !(10_000..=1_000_000_000_000_000).contains(&self.limit_micros) {
            return Err(Invalid::new("limit", "between $0.01 and $1,000,000,000"));
        }
        if self.webhook_url.is_some() && self.enforcement == Enforcement::Hard {
            return Err(Invalid::new("webhook", "only soft budgets alert"));
        }
        Ok(())
    }

    /// "the tenant's hard budget of $10.00 per calendar month (UTC)".
    pub fn describe(&self) -> String {
        let whose = match &self.api_key_name {
            Some(name) => format!("API key {name}'s"),
            None => "the tenant's".into(),
        };
        format!(
            "{whose} {} budget of {} per {}",
            self.enforcement.as_str(),
            format_money(self.limit_micros),
            self.period.describe()
        )
    }

    /// The refusal a client reads: which budget, its limit and period,
    /// what is left, and what this request could cost.
    pub fn exceeded_message(&self, spent: Micros, worst_case: Micros) -> String {
        format!(
            "budget_exceeded: {} has {} left; this request could cost up to {}",
            self.describe(),
            format_money(self.limit_micros.saturating_sub(spent).max(0)),
            format_money(worst_case)
        )
    }

    /// The refusal of a request that could cost more than the whole limit.
    pub fn beyond_limit_message(&self, worst_case: Micros) -> String {
        format!(
            "budget_exceeded: this request could cost up to {}, more than {} allows in all; \
             lower max_tokens (or n)",
            format_money(worst_case),
            self.describe()
        )
    }
}

/// A webhook URL as readers without write access see it: its scheme and
/// host only, since the path and query often hold the receiver's secret.
pub fn mask_webhook(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials before the host are secret too.
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

/// A budget with what has been spent in its current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    pub budget: Budget,
    pub spent_micros: Micros,
    /// `[from, to)` of the current period, to the end of today.
    pub period: (Millis, Millis),
}

impl BudgetStatus {
    pub fn percent(&self) -> i64 {
        percent_spent(self.spent_micros, self.budget.limit_micros)
    }

    /// Worth a banner: 80 percent or more spent.
    pub fn is_warning(&self) -> bool {
        self.percent() >= 80
    }
}

/// What a request could cost at most: its exposure's input-side tokens
/// at the dearest input-side price, its output tokens at the output
/// price, plus the per-request charge. Saturates at `Micros::MAX`, which
/// no limit admits.
pub fn worst_case(price: &Price, exposure: &Exposure) -> Micros {
    let dearest = price
        .input_per_mtok
        .max(price.cache_write_per_mtok)
        .max(price.cache_read_per_mtok);
    let bound = Price {
        input_per_mtok: dearest,
        ..*price
    };
    let tokens = TokenCounts {
        input: exposure.input.max(1),
        output: exposure.output.max(0),
        server_tool_uses: exposure.server_tool_uses.max(0),
        ..TokenCounts::default()
    };
    request_cost(&bound, &tokens, true)
}

/// The thresholds a spend change from `before` to `after` crossed, lowest first.
pub fn thresholds_crossed(before: Micros, after: Micros, limit: Micros) -> Vec<u8> {
    ALERT_THRESHOLDS
        .into_iter()
        .filter(|&pct| {
            let at = i128::from(limit) * i128::from(pct);
            i128::from(before) * 100 < at && i128::from(after) * 100 >= at
        })
        .collect()
}

/// Percent of the limit spent, rounded down.
pub fn percent_spent(spent: Micros, limit: Micros) -> i64 {
    if limit <= 0 {
        return 0;
    }
    i64::try_from(i128::from(spent.max(0)) * 100 / i128::from(limit)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

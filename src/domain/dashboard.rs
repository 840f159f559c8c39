//! What the usage dashboards show, computed from hourly rollups: spend and
//! tokens per day by model, requests and errors per hour, and a budget's
//! burn-down with the month-end projection. Pure: the server fills it, the
//! charts draw it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pricing::Micros;
use super::time::{Millis, DAY, HOUR};
use super::validation::Invalid;

/// The dashboards' period filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Span {
    Days(u32),
}

impl Span {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw.trim() {
            "" | "30d" => Ok(Span::Days(30)),
            "7d" => Ok(Span::Days(7)),
            "90d" => Ok(Span::Days(90)),
            _ => Err(Invalid::new("period", "7d, 30d or 90d")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Span::Days(7) => "7d",
            Span::Days(90) => "90d",
            Span::Days(_) => "30d",
        }
    }

    /// `[first day's start, tomorrow's start)` ending with `now`'s day.
    pub fn window(self, now: Millis) -> (Millis, Millis) {
        let Span::Days(n) = self;
        let tomorrow = (now.div_euclid(DAY) + 1) * DAY;
        (tomorrow - i64::from(n) * DAY, tomorrow)
    }
}

/// One rollup row as the dashboards need it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hour {
    pub hour: Millis,
    pub model: String,
    pub requests: i64,
    pub errors: i64,
    pub tokens: i64,
    pub cost_micros: Micros,
}

/// A day's spend and tokens by model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    pub day: Millis,
    pub by_model: BTreeMap<String, (Micros, i64)>,
}

impl Day {
    pub fn cost(&self) -> Micros {
        self.by_model.values().map(|(c, _)| c).sum()
    }
}

/// An hour's requests and errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub hour: Millis,
    pub requests: i64,
    pub errors: i64,
}

impl Traffic {
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// Every day of `[from, to)`, with nothing for days without usage.
pub fn days(hours: &[Hour], (from, to): (Millis, Millis)) -> Vec<Day> {
    let mut out: Vec<Day> = (0..((to - from) / DAY))
        .map(|i| Day {
            day: from + i * DAY,
            by_model: BTreeMap::new(),
        })
        .collect();
    for h in hours.iter().filter(|h| h.model != "-") {
        let i = (h.hour - from).div_euclid(DAY);
        if let Some(d) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            let e = d.by_model.entry(h.model.clone()).or_default();
            e.0 += h.cost_micros;
            e.1 += h.tokens;
        }
    }
    out
}

/// Every hour of the 48 before `now`'s next hour.
pub fn traffic(hours: &[Hour], now: Millis) -> Vec<Traffic> {
    let end = (now.div_euclid(HOUR) + 1) * HOUR;
    let start = end - 48 * HOUR;
    let mut out: Vec<Traffic> = (0..48)
        .map(|i| Traffic {
            hour: start + i * HOUR,
            ..Traffic::default()
        })
        .collect();
    for h in hours.iter().filter(|h| h.hour >= start && h.hour < end) {
        if let Some(t) = usize::try_from((h.hour - start) / HOUR)
            .ok()
            .and_then(|i| out.get_mut(i))
        {
            t.requests += h.requests;
            t.errors += h.errors;
        }
    }
    out
}

/// A month budget's burn: spend so far by day (cumulative) and the spend
/// the month ends on at this month's daily average.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burn {
    pub limit_micros: Micros,
    pub cumulative: Vec<(Millis, Micros)>,
    pub days_in_month: i64,
    pub projected_micros: Micros,
}

/// `month_days`: the month's days so far (first to today), from `days`.
pub fn burn(month_days: &[Day], days_in_month: i64, limit_micros: Micros) -> Burn {
    let mut total = 0;
    let cumulative: Vec<(Millis, Micros)> = month_days
        .iter()
        .map(|d| {
            total += d.cost();
            (d.day, total)
        })
        .collect();
    let elapsed = cumulative.len().max(1) as i64;
    let projected =
        i64::try_from(i128::from(total) * i128::from(days_in_month) / i128::from(elapsed))
            .unwrap_or(i64::MAX);
    Burn {
        limit_micros,
        cumulative,
        days_in_month,
        projected_micros: projected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(hour: Millis, model: &str, cost: Micros) -> Hour {
        Hour {
            hour,
            model: model.into(),
            requests: 2,
            errors: 1,
            tokens: 10,
            cost_micros: cost,
        }
    }

    #[test]
    fn days_cover_the_window_and_stack_by_model() {
        let from = 100 * DAY;
        let hours = [
            h(from + HOUR, "a", 5),
            h(from + 2 * HOUR, "b", 7),
            h(from + DAY, "a", 1),
            h(from, "-", 9),
        ];
        let d = days(&hours, (from, from + 3 * DAY));
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].cost(), 12);
        assert_eq!(d[0].by_model["b"], (7, 10));
        assert_eq!(d[1].cost(), 1);
        assert!(
            d[2].by_model.is_empty(),
            "a day without usage is still there"
        );
    }

    #[test]
    fn traffic_is_the_last_48_hours() {
        let now = 1000 * HOUR + 5;
        let t = traffic(
            &[
                h(1000 * HOUR, "a", 1),
                h(952 * HOUR, "a", 1),
                h(953 * HOUR, "a", 1),
            ],
            now,
        );
        assert_eq!(t.len(), 48);
        assert_eq!(t[47].requests, 2);
        assert_eq!(t[0].hour, 953 * HOUR);
        assert_eq!(
            t.iter().map(|x| x.requests).sum::<i64>(),
            4,
            "the 49th hour back is out"
        );
        assert!((t[47].error_rate() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn burn_projects_the_daily_average_to_month_end() {
        let days: Vec<Day> = (0..10)
            .map(|i| Day {
                day: i * DAY,
                by_model: [("m".to_string(), (1_000, 1))].into_iter().collect(),
            })
            .collect();
        let b = burn(&days, 30, 50_000);
        assert_eq!(b.cumulative.last(), Some(&(9 * DAY, 10_000)));
        assert_eq!(b.projected_micros, 30_000);
        assert_eq!(Span::parse("").map(Span::as_str), Ok("30d"));
        assert!(Span::parse("1y").is_err());
    }

    #[test]
    fn the_usage_csv_defuses_formulas_in_model_names() {
        let day = Day {
            day: 0,
            by_model: [("=HYPERLINK(\"x\",\"y\")".to_string(), (1_500_000, 7))].into(),
        };
        let usage = TenantUsage {
            tenant_id: "t".into(),
            tenant_name: "T".into(),
            span: Span::parse("30d").expect("span"),
            model: None,
            key: None,
            days: vec![day],
            traffic: Vec::new(),
            burn: None,
            models: Vec::new(),
            keys: Vec::new(),
        };
        let csv = usage.to_csv();
        assert!(csv.contains(",\"'=HYPERLINK("), "{csv}");
        assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    }
}

/// A tenant's Usage page: what the filters (`span`, `model`, `key`) select.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantUsage {
    pub tenant_id: String,
    pub tenant_name: String,
    pub span: Span,
    pub model: Option<String>,
    pub key: Option<String>,
    pub days: Vec<Day>,
    pub traffic: Vec<Traffic>,
    /// The tenant-wide month budget's burn-down, when it has one.
    pub burn: Option<Burn>,
    /// Filter choices: models used, and keys (id, name) of the tenant.
    pub models: Vec<String>,
    pub keys: Vec<(String, String)>,
}

impl TenantUsage {
    /// The days table as CSV: one row per day and model.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("day,model,tokens,cost_usd\n");
        for d in &self.days {
            for (model, (cost, tokens)) in &d.by_model {
                out.push_str(&format!(
                    "{},{},{tokens},{}\n",
                    super::time::rfc3339(d.day).get(..10).unwrap_or_default(),
                    super::csv::cell(model),
                    super::pricing::format_usd(*cost).trim_start_matches('$')
                ));
            }
        }
        out
    }
}

/// The platform's Usage & billing overview, this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformUsage {
    pub month_cost_micros: Micros,
    pub month_requests: i64,
    /// (tenant id, name, cost, requests), dearest first, at most 10.
    pub top_tenants: Vec<(String, String, Micros, i64)>,
    /// (model, cost, requests), dearest first, at most 10.
    pub top_models: Vec<(String, Micros, i64)>,
    /// The last 30 days' spend across tenants.
    pub trend: Vec<(Millis, Micros)>,
    /// Budgets at 50% or more: (tenant name, status).
    pub budgets: Vec<(String, super::budget::BudgetStatus)>,
}

/// What the dashboard opens with: the platform's headline counts for
/// platform users; for a tenant's users, their tenant's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Home {
    Platform(super::tenant::TenantCounts),
    Tenant {
        tenant_id: String,
        usage: super::usage::UsageReport,
        budgets: Vec<super::budget::BudgetStatus>,
    },
}

//! LiteLLM's key-management request shapes, read into Atrium's terms: a
//! team is a tenant, a virtual key an API key, `max_budget` a hard budget.
//! Fields with no equivalent are named back to the caller, never silently
//! taken as honoured.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::budget::Period;
use super::pricing::Micros;
use super::time::{Millis, DAY, HOUR, MINUTE, SECOND};
use super::validation::Invalid;

/// Keys or aliases one delete may name.
pub const MAX_DELETE: usize = 100;
/// The longest key lifetime, as for Atrium's own keys.
pub const MAX_LIFETIME: Millis = 3650 * DAY;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyGenerate {
    pub team_id: Option<String>,
    pub key_alias: Option<String>,
    pub key_name: Option<String>,
    pub duration: Option<String>,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    /// Everything else LiteLLM accepts (`models`, `rpm_limit`, `metadata`, …).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TeamNew {
    pub team_alias: Option<String>,
    pub max_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyDelete {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub key_aliases: Vec<String>,
}

impl KeyDelete {
    pub fn check(&self) -> Result<(), Invalid> {
        if self.keys.is_empty() && self.key_aliases.is_empty() {
            return Err(Invalid::new("keys", "name at least one key or key alias"));
        }
        if self.keys.len() + self.key_aliases.len() > MAX_DELETE {
            return Err(Invalid::new(
                "keys",
                format!("at most {MAX_DELETE} per request"),
            ));
        }
        Ok(())
    }
}

/// The fields a caller set that Atrium does not apply, for the answer's
/// `x-atrium-ignored` header and the documentation. Nulls, empty lists
/// and empty objects count as not set.
pub fn ignored(other: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = other
        .iter()
        .filter(|(_, v)| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        })
        .map(|(k, _)| k.chars().take(64).collect())
        .take(32)
        .collect();
    names.sort();
    names
}

/// LiteLLM durations: `30s`, `30m`, `30h`, `30d`, `4w`, `1mo`; `permanent`
/// or nothing for no expiry. The answer is in milliseconds.
pub fn duration(raw: Option<&str>) -> Result<Option<Millis>, Invalid> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() || raw.eq_ignore_ascii_case("permanent") {
        return Ok(None);
    }
    let bad = || Invalid::new("duration", "like 30s, 30m, 30h, 30d, 4w or 1mo");
    let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
    let n: i64 = raw[..digits].parse().map_err(|_| bad())?;
    let unit = match &raw[digits..] {
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        "mo" => 30 * DAY,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(unit)
        .filter(|ms| (1..=MAX_LIFETIME).contains(ms));
    ms.map(Some)
        .ok_or_else(|| Invalid::new("duration", "must be more than zero and at most 3650 days"))
}

/// A LiteLLM budget in dollars, as micro-dollars; not a number, negative
/// or beyond $1B is refused rather than rounded into something else.
pub fn budget_micros(dollars: f64) -> Result<Micros, Invalid> {
    let micros = dollars * 1_000_000.0;
    if !micros.is_finite() || !(0.0..=1e15).contains(&micros) {
        return Err(Invalid::new(
            "max_budget",
            "must be 0 to 1,000,000,000 dollars",
        ));
    }
    Ok(micros.round() as Micros)
}

/// A budget's reset period: whole days or a month. LiteLLM also resets by
/// the hour or minute; Atrium budgets do not, so those are refused.
pub fn budget_period(raw: Option<&str>) -> Result<Period, Invalid> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() || raw == "1mo" || raw == "30d" {
        return Ok(if raw == "30d" {
            Period::Days(30)
        } else {
            Period::Month
        });
    }
    let bad = || Invalid::new("budget_duration", "whole days (like 7d, up to 366d) or 1mo");
    let days = raw.strip_suffix('d').ok_or_else(bad)?;
    let n: u32 = days.parse().map_err(|_| bad())?;
    if !(1..=366).contains(&n) {
        return Err(bad());
    }
    Ok(Period::Days(n))
}

/// One row of `/spend/logs`, in LiteLLM's names.
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct SpendLog {
    pub request_id: String,
    pub call_type: &'static str,
    pub api_key: Option<String>,
    pub team_id: String,
    pub model: String,
    pub spend: f64,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub startTime: String,
    pub endTime: String,
    pub status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_litellms() {
        assert_eq!(duration(Some("30d")), Ok(Some(30 * DAY)));
        assert_eq!(duration(Some("1h")), Ok(Some(HOUR)));
        assert_eq!(duration(Some("permanent")), Ok(None));
        assert_eq!(duration(None), Ok(None));
        assert!(duration(Some("0d")).is_err());
        assert!(duration(Some("99999999999999d")).is_err());
        assert!(duration(Some("3 days")).is_err());
        assert!(duration(Some("d")).is_err());
    }

    #[test]
    fn budgets_are_checked_not_rounded_into_nonsense() {
        assert_eq!(budget_micros(10.5), Ok(10_500_000));
        assert!(budget_micros(f64::NAN).is_err());
        assert!(budget_micros(-1.0).is_err());
        assert!(budget_micros(1e300).is_err());
        assert_eq!(budget_period(None), Ok(Period::Month));
        assert_eq!(budget_period(Some("7d")), Ok(Period::Days(7)));
        assert!(budget_period(Some("1h")).is_err());
    }

    #[test]
    fn fields_without_an_equivalent_are_named() {
        let other: Map<String, Value> = serde_json::from_str(
            r#"{"models": ["gpt-4"], "rpm_limit": 5, "metadata": {}, "user_id": null}"#,
        )
        .expect("json");
        assert_eq!(ignored(&other), vec!["models", "rpm_limit"]);
    }
}

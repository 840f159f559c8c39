//! Money is integer micro-dollars; prices are micro-dollars per million tokens.

use serde::{Deserialize, Serialize};

use super::validation::Invalid;

pub type Micros = i64;

/// What one model costs, per million tokens of each kind, and per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Price {
    pub input_per_mtok: Micros,
    pub output_per_mtok: Micros,
    pub cache_read_per_mtok: Micros,
    pub cache_write_per_mtok: Micros,
    /// A flat charge per answered request (status below 400), on top of
    /// its tokens; refused and failed requests do not pay it.
    #[serde(default)]
    pub per_request: Micros,
    /// A charge per use of a server-side tool (a web search or fetch run
    /// by the provider), which providers bill on top of tokens.
    #[serde(default)]
    pub per_server_tool_use: Micros,
}

impl Price {
    /// A typical frontier model's prices ($3 in, $15 out, cache reads at a
    /// tenth, writes at 1.25×): the tests' common example.
    #[cfg(test)]
    pub(crate) fn sonnet_like() -> Price {
        Price {
            input_per_mtok: 3_000_000,
            output_per_mtok: 15_000_000,
            cache_read_per_mtok: 300_000,
            cache_write_per_mtok: 3_750_000,
            per_request: 0,
            per_server_tool_use: 0,
        }
    }

    /// Each charge from $0 to $1M (per million tokens, request or use),
    /// as `parse_usd` bounds what people type: the worst case of a request
    /// then stays far inside the money type.
    pub fn check(&self) -> Result<(), Invalid> {
        let fields = [
            ("input_per_mtok", self.input_per_mtok),
            ("output_per_mtok", self.output_per_mtok),
            ("cache_read_per_mtok", self.cache_read_per_mtok),
            ("cache_write_per_mtok", self.cache_write_per_mtok),
            ("per_request", self.per_request),
            ("per_server_tool_use", self.per_server_tool_use),
        ];
        match fields
            .into_iter()
            .find(|(_, v)| !(0..=MAX_PRICE).contains(v))
        {
            Some((field, _)) => Err(Invalid::new(field, "must be between $0 and $1,000,000")),
            None => Ok(()),
        }
    }
}

/// The most any one price may be: $1M, in micro-dollars.
pub const MAX_PRICE: Micros = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    /// Server-side tool uses the provider reported (Anthropic's
    /// `usage.server_tool_use`): not tokens, priced per use.
    #[serde(default)]
    pub server_tool_uses: i64,
}

impl TokenCounts {
    /// Tokens of every kind (what rate limits count); tool uses are not tokens.
    /// Saturating: the counts come from the provider's answer, and a sum
    /// that wrapped would hand a rate limit back tokens instead of taking them.
    pub fn total(&self) -> i64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
    }
}

/// Cost rounded half up to the micro-dollar, computed in i128 so huge token
/// counts cannot overflow.
pub fn cost(price: &Price, tokens: &TokenCounts) -> Micros {
    let part = |n: i64, p: Micros| i128::from(n.max(0)) * i128::from(p.max(0));
    let total = part(tokens.input, price.input_per_mtok)
        + part(tokens.output, price.output_per_mtok)
        + part(tokens.cache_read, price.cache_read_per_mtok)
        + part(tokens.cache_write, price.cache_write_per_mtok);
    i64::try_from((total + 500_000) / 1_000_000).unwrap_or(i64::MAX)
}

/// What one request costs: its tokens, its server-side tool uses (billed
/// by the provider whatever the outcome), and the per-request charge when
/// it was answered.
pub fn request_cost(price: &Price, tokens: &TokenCounts, answered: bool) -> Micros {
    let flat = if answered {
        price.per_request.max(0)
    } else {
        0
    };
    cost(price, tokens)
        .saturating_add(units_cost(
            tokens.server_tool_uses,
            price.per_server_tool_use,
        ))
        .saturating_add(flat)
}

/// Evaluations times the price of one, saturating.
pub fn units_cost(units: i64, micros_per_unit: Micros) -> Micros {
    units.max(0).saturating_mul(micros_per_unit.max(0))
}

/// "3", "0.25", "$15.00" → micro-dollars, exactly (no float rounding).
pub fn parse_usd(field: &'static str, raw: &str) -> Result<Micros, Invalid> {
    let s = raw.trim().trim_start_matches('$');
    let bad = || Invalid::new(field, "must be a dollar amount like 3 or 0.25");
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return Err(bad());
    }
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac_micros: i64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac_micros))
        .filter(|v| *v <= 1_000_000_000_000)
        .ok_or_else(bad)
}

/// As `parse_usd`, an empty field being $0 (optional money in forms).
pub fn parse_usd_or_zero(field: &'static str, raw: &str) -> Result<Micros, Invalid> {
    if raw.trim().is_empty() {
        Ok(0)
    } else {
        parse_usd(field, raw)
    }
}

pub fn usd(micros: Micros) -> f64 {
    micros as f64 / 1_000_000.0
}

pub fn format_usd(micros: Micros) -> String {
    format!("${}.{:06}", micros / 1_000_000, (micros % 1_000_000).abs())
}

/// Dollars as people read them: cents when the amount is whole cents
/// ("$10.00"), every micro-dollar otherwise ("$0.010500").
pub fn format_money(micros: Micros) -> String {
    if micros % 10_000 == 0 {
        let sign = if micros < 0 { "-" } else { "" };
        let cents = (micros / 10_000).abs();
        format!("{sign}${}.{:02}", cents / 100, cents % 100)
    } else {
        format_usd(micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_reporting_absurd_usage_saturates_the_total() {
        let t = TokenCounts {
            input: i64::MAX,
            output: i64::MAX,
            cache_read: 1,
            cache_write: 1,
            server_tool_uses: 0,
        };
        assert_eq!(t.total(), i64::MAX, "never wraps to a negative total");
    }

    #[test]
    fn parses_dollars_exactly() {
        assert_eq!(parse_usd("p", "3"), Ok(3_000_000));
        assert_eq!(parse_usd("p", "$0.25"), Ok(250_000));
        assert_eq!(parse_usd("p", ".000001"), Ok(1));
        assert_eq!(parse_usd("p", "15.5"), Ok(15_500_000));
        for bad in ["", "-1", "1.2345678", "abc", "1e3", "."] {
            assert!(parse_usd("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn costs_in_micro_dollars() {
        let price = Price::sonnet_like();
        let t = TokenCounts {
            input: 1000,
            output: 500,
            cache_read: 0,
            cache_write: 0,
            server_tool_uses: 0,
        };
        // 1000 * $3/M + 500 * $15/M = $0.003 + $0.0075
        assert_eq!(cost(&price, &t), 10_500);
        let t = TokenCounts {
            input: 1,
            output: 0,
            cache_read: 0,
            cache_write: 0,
            server_tool_uses: 0,
        };
        assert_eq!(cost(&price, &t), 3);
        let huge = TokenCounts {
            input: i64::MAX,
            output: i64::MAX,
            cache_read: 0,
            cache_write: 0,
            server_tool_uses: 0,
        };
        assert!(cost(&price, &huge) > 0);
    }

    #[test]
    fn formats() {
        assert_eq!(format_usd(10_500), "$0.010500");
        assert_eq!(format_money(10_500), "$0.010500");
        assert_eq!(format_money(10_000_000), "$10.00");
        assert_eq!(format_money(-1_250_000), "-$1.25");
        assert!((usd(2_500_000) - 2.5).abs() < 1e-9);
    }
}

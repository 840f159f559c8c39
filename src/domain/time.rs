//! Timestamps are UTC milliseconds since the Unix epoch everywhere in storage,
//! so both database backends sort and compare them the same way.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

/// Now in fractional milliseconds, for rate limiters whose intervals are
/// finer than a millisecond.
pub fn now_ms_f64() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1000.0
}

/// `2026-11-28 03:12 UTC`, for tables.
pub fn format_millis(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".to_string())
}

/// When a version took effect; versions from before prices were versioned
/// carry time zero and have always applied.
pub fn format_since(ms: Millis) -> String {
    if ms <= 0 {
        "always".to_string()
    } else {
        format_millis(ms)
    }
}

pub fn format_opt(ms: Option<Millis>) -> String {
    ms.map(format_millis).unwrap_or_else(|| "—".to_string())
}

/// RFC 3339 for machine output.
pub fn rfc3339(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// A date (`2026-11-28`, UTC midnight) or an RFC 3339 time.
pub fn parse_day_or_time(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis());
    }
    parse_rfc3339(s)
}

/// The end of a range typed as a date includes that whole day.
pub fn range_end(s: &str) -> Option<Millis> {
    let start = parse_day_or_time(s)?;
    Some(if s.trim().len() == 10 {
        start + DAY
    } else {
        start + 1
    })
}

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_times_parse_and_ranges_include_the_end_day() {
        let d = parse_day_or_time("2026-11-28").expect("date");
        assert_eq!(rfc3339(d), "2026-11-28T00:00:00.000Z");
        assert_eq!(range_end("2026-11-28"), Some(d + DAY));
        assert!(parse_day_or_time("2026-13-01").is_none());
        assert!(parse_day_or_time("2026-11-28T10:00:00Z").is_some());
    }

    #[test]
    fn rfc3339_round_trips() {
        let ms = 1_795_000_000_123;
        assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
    }

    #[test]
    fn formats_for_tables() {
        assert_eq!(format_millis(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_opt(None), "—");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}

//! The opt-in request log (GDPR evidence, issue 22). Off by default; a
//! tenant turns it on in `full` mode (the prompt and the answer as they
//! left Atrium, after the tenant's redaction) or `hashes` mode (their
//! SHA-256s only). Rows are indexed by keyed hashes of the identifiers
//! found in them, so a data subject is found without identifiers in clear.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::time::Millis;
use super::validation::Invalid;

/// Bytes of a prompt or an answer kept in `full` mode; the rest is cut
/// (the row records the whole size), so one request cannot fill a store.
pub const MAX_TEXT_BYTES: usize = 32 * 1024;
/// Identifiers indexed per request: a prompt listing thousands of
/// addresses adds a bounded number of index rows.
pub const MAX_SUBJECTS: usize = 32;
/// The longest identifier indexed or looked up.
pub const MAX_SUBJECT_BYTES: usize = 256;
pub const MAX_RETENTION_DAYS: i64 = 3_650;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum LogMode {
    #[default]
    Off,
    Full,
    Hashes,
}

impl LogMode {
    pub const ALL: [LogMode; 3] = [LogMode::Off, LogMode::Full, LogMode::Hashes];

    pub fn as_str(self) -> &'static str {
        match self {
            LogMode::Off => "off",
            LogMode::Full => "full",
            LogMode::Hashes => "hashes",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LogMode::Off => "Off",
            LogMode::Full => "Full text, after redaction",
            LogMode::Hashes => "SHA-256 hashes only",
        }
    }

    pub fn is_on(self) -> bool {
        self != LogMode::Off
    }
}

impl fmt::Display for LogMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogMode {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        LogMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| Invalid::new("mode", "must be full, hashes or off"))
    }
}

/// A tenant's request-log settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LogSettings {
    pub mode: LogMode,
    /// Rows older than this are purged; `None` keeps them.
    pub retention_days: Option<i64>,
}

impl LogSettings {
    pub fn new(mode: LogMode, retention_days: Option<i64>) -> Result<Self, Invalid> {
        if retention_days.is_some_and(|d| !(1..=MAX_RETENTION_DAYS).contains(&d)) {
            return Err(Invalid::new(
                "retention_days",
                format!("must be between 1 and {MAX_RETENTION_DAYS} days"),
            ));
        }
        Ok(Self {
            mode,
            retention_days,
        })
    }
}

/// What one request adds to the log, carried with its usage event so both
/// are written in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub mode: LogMode,
    /// The text kept (`full`, at most [`MAX_TEXT_BYTES`]) or its SHA-256.
    pub prompt: String,
    pub response: String,
    /// The whole sizes, so a cut text says so.
    pub prompt_bytes: i64,
    pub response_bytes: i64,
    /// Keyed hashes (hex) of the identifiers found, at most [`MAX_SUBJECTS`].
    pub subjects: Vec<String>,
}

/// A logged request as reports show it: the log row with its ledger row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub request_id: String,
    pub created_at: Millis,
    pub api_key_id: Option<String>,
    pub model: String,
    pub provider: Option<String>,
    pub provider_region: Option<String>,
    /// `EntityType` names (`EMAIL_ADDRESS`).
    pub pii_classes: Vec<String>,
    pub policy_action: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub status: i64,
    pub mode: LogMode,
    pub prompt: String,
    pub response: String,
    pub prompt_bytes: i64,
    pub response_bytes: i64,
}

/// The longest prefix of `s` within `max` bytes, cut on a character.
pub fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The one spelling an identifier is indexed and looked up under: e-mails
/// lower-cased, phone numbers as `+` and digits (E.164) when written with
/// a country code (`+` or `00`), else their digits; anything else (an
/// end-user id) as given, trimmed. `None` when empty or too long.
pub fn normalise_subject(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() || s.len() > MAX_SUBJECT_BYTES {
        return None;
    }
    if looks_like_email(s) {
        return Some(s.to_lowercase());
    }
    if let Some(phone) = phone(s) {
        return Some(phone);
    }
    Some(s.to_string())
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A phone number's E.164 form: 7 to 15 digits, written with only the
/// usual separators.
fn phone(s: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.');
    if !s.chars().all(allowed) || s[1..].contains('+') {
        return None;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    if s.starts_with('+') {
        Some(format!("+{digits}"))
    } else if let Some(rest) = digits.strip_prefix("00") {
        Some(format!("+{rest}"))
    } else {
        Some(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_have_one_spelling() {
        let n = |s: &str| normalise_subject(s);
        assert_eq!(n(" Alice@Example.COM "), Some("alice@example.com".into()));
        assert_eq!(n("+44 20 7946 0958"), Some("+442079460958".into()));
        assert_eq!(n("0044 (20) 7946-0958"), Some("+442079460958".into()));
        assert_eq!(n("(212) 555-0100"), Some("2125550100".into()));
        assert_eq!(n("user-42"), Some("user-42".into()));
        assert_eq!(
            n("User-42"),
            Some("User-42".into()),
            "ids are case sensitive"
        );
        assert_eq!(n("   "), None);
        assert_eq!(n(&"x".repeat(MAX_SUBJECT_BYTES + 1)), None);
        assert_eq!(n("1+2"), Some("1+2".into()), "not a phone");
    }

    #[test]
    fn prefixes_cut_on_characters_and_settings_are_bounded() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("abc", 10), "abc");
        assert!(LogSettings::new(LogMode::Full, Some(0)).is_err());
        assert!(LogSettings::new(LogMode::Full, Some(MAX_RETENTION_DAYS + 1)).is_err());
        assert!(LogSettings::new(LogMode::Hashes, None).is_ok());
        assert_eq!("Hashes".parse::<LogMode>(), Ok(LogMode::Hashes));
        assert!("on".parse::<LogMode>().is_err());
    }
}

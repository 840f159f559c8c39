//! An audit search as the services run it: the URL's filters (`AuditQuery`,
//! free text as typed) checked once and turned into types, each bounded so
//! a hand-made URL cannot make the search do unbounded work.

use super::audit::{AuditQuery, AuditStatus};
use super::time::{parse_day_or_time, range_end, Millis};
use super::validation::Invalid;
use crate::domain::tenant::TenantId;

/// Longest value any one filter may hold.
pub const MAX_FILTER_CHARS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    pub tenant_id: Option<TenantId>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// A resource type (`tenant`) or a resource id.
    pub resource: Option<String>,
    pub status: Option<AuditStatus>,
    /// Inclusive start and exclusive end, in milliseconds.
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    /// Lower-cased words to find in the action, actor, resource or details.
    pub text: Option<String>,
}

impl AuditSearch {
    /// The filter, if any, that no index narrows: text (the gateway's
    /// decisions are outside PostgreSQL's trigram index, and SQLite has
    /// none) or a resource; either may read a tenant's whole trail, and is
    /// the one a search stopped at its timeout is asked to narrow.
    pub fn broad(&self) -> Option<&'static str> {
        match (&self.text, &self.resource) {
            (Some(_), _) => Some("text"),
            (None, Some(_)) => Some("resource"),
            (None, None) => None,
        }
    }
}

impl AuditQuery {
    pub fn parse(&self) -> Result<AuditSearch, Invalid> {
        let status = filter("status", &self.status)?
            .map(|s| {
                AuditStatus::parse(&s)
                    .ok_or_else(|| Invalid::new("status", "must be success, failure or denied"))
            })
            .transpose()?;
        let from = filter("from", &self.from)?
            .map(|f| parse_day_or_time(&f).ok_or_else(|| date("from")))
            .transpose()?;
        let to = filter("to", &self.to)?
            .map(|t| range_end(&t).ok_or_else(|| date("to")))
            .transpose()?;
        Ok(AuditSearch {
            tenant_id: filter("tenant", &self.tenant_id)?
                .map(|t| TenantId::parse(&t))
                .transpose()?,
            actor: filter("actor", &self.actor)?,
            action: filter("action", &self.action)?,
            resource: filter("resource", &self.resource)?,
            status,
            from,
            to,
            text: filter("q", &self.text)?.map(|t| t.to_lowercase()),
        })
    }
}

fn date(field: &'static str) -> Invalid {
    Invalid::new(field, "must be a date (YYYY-MM-DD)")
}

/// A trimmed filter, `None` when empty; too long or holding control
/// characters is refused.
fn filter(field: &'static str, raw: &str) -> Result<Option<String>, Invalid> {
    let t = raw.trim();
    if t.chars().count() > MAX_FILTER_CHARS || t.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_FILTER_CHARS} printable characters"),
        ));
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_types() {
        let q = AuditQuery {
            tenant_id: " 0F8FAD5B-D9CB-469F-A165-70867728950E ".into(),
            status: "denied".into(),
            from: "2026-11-01".into(),
            to: "2026-11-01".into(),
            text: "Policy.BLOCK".into(),
            ..Default::default()
        };
        let s = q.parse().expect("valid");
        assert_eq!(
            s.tenant_id.as_deref(),
            Some("0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        let bad = AuditQuery {
            tenant_id: "t1' OR 1=1".into(),
            ..Default::default()
        };
        assert!(bad.parse().is_err(), "a tenant filter must be an id");
        assert_eq!(s.status, Some(AuditStatus::Denied));
        let (from, to) = (s.from.expect("from"), s.to.expect("to"));
        assert_eq!(to - from, 86_400_000, "a day, end exclusive");
        assert_eq!(s.text.as_deref(), Some("policy.block"));
        assert_eq!(s.actor, None);
    }

    #[test]
    fn bad_filters_name_the_field() {
        let cases = [
            AuditQuery {
                status: "maybe".into(),
                ..Default::default()
            },
            AuditQuery {
                from: "yesterday".into(),
                ..Default::default()
            },
            AuditQuery {
                to: "2026-13-40".into(),
                ..Default::default()
            },
            AuditQuery {
                text: "x".repeat(MAX_FILTER_CHARS + 1),
                ..Default::default()
            },
            AuditQuery {
                actor: "a\u{0}b".into(),
                ..Default::default()
            },
        ];
        let fields: Vec<&str> = cases
            .iter()
            .map(|q| q.parse().expect_err("invalid").field)
            .collect();
        assert_eq!(fields, ["status", "from", "to", "q", "actor"]);
    }
}

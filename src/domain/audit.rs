use crate::domain::tenant::TenantId;
use serde::{Deserialize, Serialize};

use super::time::Millis;

pub use super::audit_action::AuditAction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    Success,
    Failure,
    Denied,
}

impl AuditStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Success => "success",
            AuditStatus::Failure => "failure",
            AuditStatus::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(AuditStatus::Success),
            "failure" => Some(AuditStatus::Failure),
            "denied" => Some(AuditStatus::Denied),
            _ => None,
        }
    }
}

/// One recorded fact: who did what to which resource, and how it went.
/// `details` holds identifiers and field names, never secrets or PII values.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub status: AuditStatus,
    pub client_ip: Option<String>,
    pub details: String,
    /// The hash chain the event belongs to (a tenant id, or `platform`),
    /// its position there, and its hash.
    pub chain: String,
    pub chain_seq: i64,
    pub hash: String,
}

/// Detail fields that name the deployment's internals (a tenant store's
/// schema or file, a raw database error): for the platform's operators,
/// not for the tenant's own users.
const INTERNAL_DETAILS: [&str; 4] = ["store", "error", "from_location", "to_location"];

impl AuditEvent {
    /// The event as a tenant user may see it, internals replaced.
    pub fn for_tenant_user(mut self) -> Self {
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&self.details) {
            for key in INTERNAL_DETAILS {
                if let Some(v) = map.get_mut(key).filter(|v| !v.is_null()) {
                    *v = serde_json::Value::from("(internal)");
                }
            }
            self.details = serde_json::Value::Object(map).to_string();
        }
        self
    }
}

/// Something an event refers to, as a person reads it: a name (or key
/// prefix, or e-mail) and the portal page about it, when there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Named {
    pub label: String,
    pub href: Option<String>,
}

/// An event as the audit table shows it: names instead of identifiers and
/// the details as key/value pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub event: AuditEvent,
    /// The actor as people read it: a `user:<id>` shown by the user's
    /// e-mail while the user exists.
    pub actor: Named,
    pub tenant: Option<Named>,
    pub resource: Named,
    pub details: Vec<(String, String)>,
}

/// An event's details as key/value pairs, by key. Strings show as
/// they are, anything else as compact JSON; details that are not an object
/// show whole under one key.
pub fn detail_pairs(details: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(details) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let shown = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, shown)
            })
            .collect(),
        Ok(serde_json::Value::Null) => Vec::new(),
        _ if details.trim().is_empty() => Vec::new(),
        _ => vec![("details".into(), details.to_string())],
    }
}

/// Audit search filters, as they appear in the portal's URL and the
/// admin API's query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
#[serde(default)]
pub struct AuditQuery {
    pub tenant_id: String,
    pub actor: String,
    pub action: String,
    /// A resource type (`tenant`) or a resource id.
    pub resource: String,
    pub status: String,
    /// Dates (`YYYY-MM-DD`, UTC), inclusive.
    pub from: String,
    pub to: String,
    /// Words to find in the action, actor, resource or details.
    pub text: String,
}

/// Export formats for audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum, utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

pub const CSV_HEADER: &str =
    "id,at,actor,action,resource_type,resource_id,tenant_id,status,client_ip,details,chain,chain_seq,hash\n";

/// One CSV line. Cells that a spreadsheet would run as a formula get a
/// leading quote, so an export cannot carry a formula injection.
pub fn csv_line(e: &AuditEvent) -> String {
    let cells = [
        e.id.clone(),
        super::time::rfc3339(e.at),
        e.actor.clone(),
        e.action.clone(),
        e.resource_type.clone(),
        e.resource_id.clone().unwrap_or_default(),
        e.tenant_id
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        e.status.as_str().to_string(),
        e.client_ip.clone().unwrap_or_default(),
        e.details.clone(),
        e.chain.clone(),
        e.chain_seq.to_string(),
        e.hash.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| super::csv::cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(details: &str, actor: &str) -> AuditEvent {
        AuditEvent {
            id: "e1".into(),
            at: 0,
            actor: actor.into(),
            action: "tenant.create".into(),
            resource_type: "tenant".into(),
            resource_id: Some("t1".into()),
            tenant_id: None,
            status: AuditStatus::Success,
            client_ip: None,
            details: details.into(),
            chain: "platform".into(),
            chain_seq: 1,
            hash: "ab".into(),
        }
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let line = csv_line(&event("{\"a\":\"b,c\"}", "=cmd|' /C calc'!A0"));
        assert!(line.contains("\"{\"\"a\"\":\"\"b,c\"\"}\""), "{line}");
        assert!(line.contains(",'=cmd|"), "{line}");
        assert!(line.ends_with('\n'));
        assert_eq!(
            line.matches(',').count() - 1,
            CSV_HEADER.matches(',').count(),
            "{line}"
        );
    }
}

#[cfg(test)]
mod action_tests {
    use super::*;

    #[test]
    fn details_read_as_pairs() {
        let pairs = detail_pairs(r#"{"name":"prod","expires_at":null,"rules":["a","b"]}"#);
        assert_eq!(
            pairs,
            vec![
                ("expires_at".to_string(), "null".to_string()),
                ("name".to_string(), "prod".to_string()),
                ("rules".to_string(), r#"["a","b"]"#.to_string()),
            ]
        );
        assert!(detail_pairs("{}").is_empty());
        assert!(detail_pairs("").is_empty());
        assert_eq!(detail_pairs("[1]"), vec![("details".into(), "[1]".into())]);
    }

    #[test]
    fn actions_round_trip_by_name() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
            assert_eq!(serde_json::to_value(a).expect("json"), a.as_str());
        }
        assert!("key.create".parse::<AuditAction>().is_err());
    }
}

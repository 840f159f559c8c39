use serde::{Deserialize, Serialize};

use super::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub tenant_id: Option<String>,
    pub status: AuditStatus,
    pub client_ip: Option<String>,
    pub details: String,
    /// The hash chain the event belongs to (a tenant id, or `platform`),
    /// its position there, and its hash.
    pub chain: String,
    pub chain_seq: i64,
    pub hash: String,
}

/// Audit search filters, as they appear in the portal's URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
        e.tenant_id.clone().unwrap_or_default(),
        e.status.as_str().to_string(),
        e.client_ip.clone().unwrap_or_default(),
        e.details.clone(),
        e.chain.clone(),
        e.chain_seq.to_string(),
        e.hash.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

fn csv_cell(c: &str) -> String {
    let guarded = if c.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{c}")
    } else {
        c.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
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

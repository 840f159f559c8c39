//! Step 3 of the pipeline: classify the prompt's text, apply the tenant's
//! data policy, and redact or block before the provider sees anything.

use crate::domain::tenant::TenantId;
use serde_json::{json, Map, Value};

use super::audit_writer;
use super::error::GatewayError;
use super::Gateway;
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::domain::pii::{self, Classification};
use crate::domain::policy::{self, Action, Decision, Direction, PolicyRule};
use crate::server::services::policies;

/// Keys whose string values are identifiers or encodings, not prose.
const NOT_TEXT: &[&str] = &[
    "role",
    "type",
    "id",
    "tool_use_id",
    "tool_call_id",
    "name",
    "media_type",
    "model",
    "url",
    "data",
    "cache_control",
    "signature",
    "stop_reason",
    "finish_reason",
    "object",
];

/// The outcome for one request: its action, its most sensitive finding,
/// and the refusal to answer with when the action is `block`.
pub struct Governed {
    pub action: Action,
    pub classification: Classification,
    pub refusal: Option<GatewayError>,
}

/// Classifies `body`'s prompt (system and messages), redacts in place or
/// refuses, and audits every decision that is not a plain allow. Reads the
/// policy snapshot only.
#[tracing::instrument(skip_all)]
pub fn prompt(gw: &Gateway, tenant_id: &TenantId, request_id: &str, body: &mut Value) -> Governed {
    let rules = policies::effective(&gw.svc, tenant_id);
    let mut overall = Decision::allow();
    if let Some(obj) = body.as_object_mut() {
        for key in ["system", "messages"] {
            if let Some(v) = obj.get_mut(key) {
                apply(v, &rules, Direction::Prompt, &mut overall, false);
            }
        }
    }
    if overall.action == Action::Redact {
        if let Some(obj) = body.as_object_mut() {
            for key in ["system", "messages"] {
                if let Some(v) = obj.get_mut(key) {
                    apply(v, &rules, Direction::Prompt, &mut Decision::allow(), true);
                }
            }
        }
    }
    if overall.action != Action::Allow {
        record(gw, tenant_id, request_id, &overall, Direction::Prompt);
    }
    let refusal =
        (overall.action == Action::Block).then(|| GatewayError::Forbidden(overall.refusal()));
    Governed {
        action: overall.action,
        classification: overall.classification,
        refusal,
    }
}

/// Redacts a non-streamed response's text under the tenant's response
/// rules; without such rules the bytes pass through untouched. A body that
/// cannot be read or rewritten under such rules is not passed on.
pub fn response(
    gw: &Gateway,
    tenant_id: &TenantId,
    request_id: &str,
    out: Vec<u8>,
) -> Result<Vec<u8>, GatewayError> {
    let rules = policies::effective(&gw.svc, tenant_id);
    if !rules.iter().any(|r| r.direction == Direction::Response) {
        return Ok(out);
    }
    let mut body = serde_json::from_slice::<Value>(&out).map_err(|e| {
        GatewayError::Internal(format!("a response under response rules is not JSON: {e}"))
    })?;
    let mut overall = Decision::allow();
    apply(&mut body, &rules, Direction::Response, &mut overall, false);
    if overall.action == Action::Allow {
        return Ok(out);
    }
    // A response cannot be refused after the fact: block and redact both redact it.
    apply(
        &mut body,
        &rules,
        Direction::Response,
        &mut Decision::allow(),
        true,
    );
    record(gw, tenant_id, request_id, &overall, Direction::Response);
    serde_json::to_vec(&body)
        .map_err(|e| GatewayError::Internal(format!("encoding a redacted response: {e}")))
}

/// Walks every prose string under `v`, merging each one's decision into
/// `overall`; with `rewrite`, replaces findings the rules redact.
fn apply(
    v: &mut Value,
    rules: &[PolicyRule],
    direction: Direction,
    overall: &mut Decision,
    rewrite: bool,
) {
    match v {
        Value::String(s) => {
            let findings = pii::detect(s);
            if findings.is_empty() {
                return;
            }
            let d = policy::evaluate(rules, &findings, direction);
            if rewrite && !d.redact.is_empty() {
                *s = pii::redact(s, &d.redact);
            }
            overall.merge(d);
        }
        Value::Array(items) => {
            for item in items {
                apply(item, rules, direction, overall, rewrite);
            }
        }
        Value::Object(map) => walk_object(map, rules, direction, overall, rewrite),
        _ => {}
    }
}

fn walk_object(
    map: &mut Map<String, Value>,
    rules: &[PolicyRule],
    direction: Direction,
    overall: &mut Decision,
    rewrite: bool,
) {
    for (k, v) in map.iter_mut() {
        if !NOT_TEXT.contains(&k.as_str()) {
            apply(v, rules, direction, overall, rewrite);
        }
    }
}

/// Audits the decision off the response path: types and rule ids, never values.
fn record(
    gw: &Gateway,
    tenant_id: &TenantId,
    request_id: &str,
    d: &Decision,
    direction: Direction,
) {
    let (action, status) = match d.action {
        Action::Allow => return,
        Action::Flag => (AuditAction::PolicyFlag, AuditStatus::Success),
        Action::Redact => (AuditAction::PolicyRedact, AuditStatus::Success),
        Action::Block => (AuditAction::PolicyBlock, AuditStatus::Denied),
    };
    gw.audit.push_detached(audit_writer::Decision {
        action,
        request_id: request_id.to_string(),
        tenant_id: tenant_id.clone(),
        status,
        details: json!({
            "direction": direction,
            "rules": d.rule_ids,
            "entity_types": d.entity_types,
            "classification": d.classification,
        }),
    });
}

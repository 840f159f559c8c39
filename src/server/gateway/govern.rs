//! Step 3 of the pipeline: classify the prompt's text, apply the tenant's
//! data policy, and redact or block before the provider sees anything.

use crate::domain::tenant::TenantId;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use super::audit_writer;
use super::error::GatewayError;
use super::vocabulary::Position;
use super::Gateway;
use crate::domain::audit::{AuditAction, AuditStatus};
use crate::domain::flag::Capability;
use crate::domain::pii::{self, Classification, EntitySet};
use crate::domain::policy::{self, Action, Decision, Direction, PolicyRule};
use crate::server::services::api_keys::Authenticated;
use crate::server::services::{flags, policies};

/// The outcome for one request: its action, its most sensitive finding,
/// and the refusal to answer with when the action is `block`.
pub struct Governed {
    pub action: Action,
    pub classification: Classification,
    pub refusal: Option<GatewayError>,
    /// Bytes redaction added to the body at most (`[REDACTED:IP_ADDRESS]`
    /// where `1.2.3.4` was), so a hold can cover what is forwarded.
    pub grown: usize,
    /// Every PII class detected in the prompt, acted on or not.
    pub entities: EntitySet,
    /// The audit event to record (see [`record`]), when not a plain allow.
    pub audit: Option<audit_writer::Decision>,
    /// E-mails and phone numbers found in the prompt before redaction,
    /// normalised, for the request log's subject index (when collected).
    pub subjects: Vec<String>,
}

/// Classifies `body`'s prompt (system and messages), redacts in place or
/// refuses, and audits every decision that is not a plain allow. Reads the
/// policy snapshot only.
#[tracing::instrument(level = "debug", skip_all)]
pub fn prompt(
    gw: &Gateway,
    tenant_id: &TenantId,
    request_id: &str,
    body: &mut Value,
    collect_subjects: bool,
) -> Governed {
    let rules = policies::effective(&gw.svc, tenant_id);
    let mut walk = Walk::new(&rules, Direction::Prompt);
    walk.subjects = collect_subjects.then(Vec::new);
    let (overall, grown, entities, subjects) = walk.decide_sized(body);
    let refusal =
        (overall.action == Action::Block).then(|| GatewayError::Forbidden(overall.refusal()));
    Governed {
        action: overall.action,
        classification: overall.classification,
        refusal,
        grown,
        entities,
        audit: event(tenant_id, request_id, &overall, Direction::Prompt),
        subjects,
    }
}

/// The tenant's rules when some apply to responses and `capability` (a
/// platform flag) has scanning on for the tenant; `None` lets a response
/// pass untouched, at no cost.
pub fn response_rules(
    gw: &Gateway,
    auth: &Authenticated,
    capability: Capability,
) -> Result<Option<Arc<[PolicyRule]>>, GatewayError> {
    let rules = policies::effective(&gw.svc, &auth.tenant.id);
    if !rules.iter().any(|r| r.direction == Direction::Response) {
        return Ok(None);
    }
    let on = flags::capability(&gw.svc, capability, &auth.flag_context)?;
    Ok(on.then_some(rules))
}

/// Redacts a non-streamed response's text under the tenant's response
/// rules; without such rules the bytes pass through untouched. A body that
/// cannot be read or rewritten under such rules is not passed on.
pub async fn response(
    gw: &Gateway,
    auth: &Authenticated,
    request_id: &str,
    out: Vec<u8>,
) -> Result<Vec<u8>, GatewayError> {
    let Some(rules) = response_rules(gw, auth, Capability::GovernanceResponseScanning)? else {
        return Ok(out);
    };
    let tenant_id = &auth.tenant.id;
    let mut body = serde_json::from_slice::<Value>(&out).map_err(|e| {
        GatewayError::Internal(format!("a response under response rules is not JSON: {e}"))
    })?;
    let choices = body.get_mut("choices").and_then(Value::as_array_mut);
    let mut dropped = false;
    for choice in choices.into_iter().flatten() {
        dropped |= drop_logprobs(choice);
        if let Some(audio) = choice.pointer_mut("/message/audio") {
            dropped |= drop_sound(audio);
        }
    }
    let overall = Walk::new(&rules, Direction::Response).decide(&mut body);
    if overall.action == Action::Allow && !dropped {
        return Ok(out);
    }
    if overall.action != Action::Allow {
        let audit = event(tenant_id, request_id, &overall, Direction::Response);
        record(gw, audit).await;
    }
    serde_json::to_vec(&body)
        .map_err(|e| GatewayError::Internal(format!("encoding a redacted response: {e}")))
}

/// Takes out an OpenAI choice's log probabilities; whether it had any.
/// Each carries its token: the answer's text again, cut wherever a value
/// may be split, so scanning each token finds nothing. Under response
/// rules they do not go out (`null` is what OpenAI sends when none were
/// asked for).
pub fn drop_logprobs(choice: &mut Value) -> bool {
    match choice.get_mut("logprobs") {
        Some(logprobs) if !logprobs.is_null() => {
            *logprobs = Value::Null;
            true
        }
        _ => false,
    }
}

/// Empties an audio answer's sound (`audio.data`, base64): it speaks the
/// transcript, which the rules redact, and no scan can read it. `""` keeps
/// the shape clients parse; whatever else stands there (not `null`) goes
/// the same way. Whether there was any.
pub fn drop_sound(audio: &mut Value) -> bool {
    match audio.get_mut("data") {
        None | Some(Value::Null) => false,
        Some(Value::String(data)) if data.is_empty() => false,
        Some(data) => {
            *data = Value::String(String::new());
            true
        }
    }
}

/// Scans one value (a streamed event) under `rules`, redacting in place;
/// merges its decision into `overall` and returns its action.
pub fn scan_value(
    rules: &[PolicyRule],
    direction: Direction,
    v: &mut Value,
    overall: &mut Decision,
) -> Action {
    scan_value_at(rules, direction, v, Position::Root, overall)
}

/// As [`scan_value`], for a value found at `at` (an OpenAI stream's delta
/// is a `ChoiceMessage`, where only `role` is vocabulary).
pub fn scan_value_at(
    rules: &[PolicyRule],
    direction: Direction,
    v: &mut Value,
    at: Position,
    overall: &mut Decision,
) -> Action {
    let d = Walk::new(rules, direction).decide_at(v, at);
    let action = d.action;
    overall.merge(d);
    action
}

/// One pass over a body: the rules, the direction, and what is left of
/// the request's findings budget (shared by all its strings, so a body of
/// many strings is bounded as one of few).
struct Walk<'a> {
    rules: &'a [PolicyRule],
    direction: Direction,
    budget: usize,
    overall: Decision,
    /// Bytes the rewrite added (a placeholder longer than what it
    /// replaced); escapes removed with the original only make it less.
    grown: usize,
    /// Every entity type found, whatever the rules do with it.
    seen: EntitySet,
    /// Identifiers found, when the request log indexes subjects.
    subjects: Option<Vec<String>>,
}

impl<'a> Walk<'a> {
    fn new(rules: &'a [PolicyRule], direction: Direction) -> Self {
        Walk {
            rules,
            direction,
            budget: pii::MAX_FINDINGS_PER_REQUEST,
            overall: Decision::allow(),
            grown: 0,
            seen: EntitySet::default(),
            subjects: None,
        }
    }

    /// Classifies `body` and redacts it where the rules say, in one pass:
    /// whether a string is redacted depends on that string's findings
    /// alone (and the findings budget, spent in the same order either
    /// way), so detecting once and rewriting at once gives what a second
    /// pass over the classified body gave, at half the scanning. A blocked
    /// prompt's body may come back redacted where a redact rule matched;
    /// it is refused, and never forwarded or logged.
    fn decide(self, body: &mut Value) -> Decision {
        self.decide_sized(body).0
    }

    /// As `decide`, for a value found at `at` in its body.
    fn decide_at(mut self, v: &mut Value, at: Position) -> Decision {
        self.value(v, at);
        self.overall
    }

    /// As `decide`, with the bytes the rewrite added, the types found and
    /// the subjects collected.
    fn decide_sized(mut self, body: &mut Value) -> (Decision, usize, EntitySet, Vec<String>) {
        self.value(body, Position::Root);
        let subjects = self.subjects.unwrap_or_default();
        (self.overall, self.grown, self.seen, subjects)
    }

    fn value(&mut self, v: &mut Value, at: Position) {
        match v {
            Value::String(s) => {
                if let Some(redacted) = self.text(s) {
                    self.grown = self
                        .grown
                        .saturating_add(redacted.len().saturating_sub(s.len()));
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item, at)),
            Value::Object(map) => self.object(map, at),
            _ => {}
        }
    }

    /// Every key and value, but protocol vocabulary at its own positions.
    fn object(&mut self, map: &mut Map<String, Value>, at: Position) {
        let mut renamed = Vec::new();
        for (k, v) in map.iter_mut() {
            if let Some(new_key) = self.text(k) {
                self.grown = self
                    .grown
                    .saturating_add(new_key.len().saturating_sub(k.len()));
                renamed.push((k.clone(), new_key));
            }
            if !(v.is_string() && at.skips(k)) {
                self.value(v, at.child(k));
            }
        }
        // Keys are forwarded too (metadata, tool schemas): redact them by renaming.
        for (old, new) in renamed {
            if let Some(v) = map.remove(&old) {
                map.insert(new, v);
            }
        }
    }

    /// Merges one string's decision; returns its redacted form when the
    /// rules redact something in it.
    fn text(&mut self, s: &str) -> Option<String> {
        let findings = pii::detect_capped(s, self.budget.min(pii::MAX_FINDINGS_PER_STRING));
        if findings.is_empty() {
            return None;
        }
        self.budget = self.budget.saturating_sub(findings.len());
        self.seen = self.seen.union(EntitySet::of(&findings));
        if let Some(subjects) = &mut self.subjects {
            collect_subjects(s, &findings, subjects);
        }
        let d = policy::evaluate(self.rules, &findings, self.direction);
        let redacted = (!d.redact.is_empty()).then(|| pii::redact(s, &d.redact));
        self.overall.merge(d);
        redacted
    }
}

/// Adds the e-mails and phone numbers among `findings` (char offsets in
/// `s`), normalised, up to the request log's bound.
fn collect_subjects(s: &str, findings: &[pii::Finding], out: &mut Vec<String>) {
    use crate::domain::pii::EntityType;
    use crate::domain::request_log::{normalise_subject, MAX_SUBJECTS};
    let wanted = |f: &&pii::Finding| {
        matches!(
            f.entity_type,
            EntityType::EmailAddress | EntityType::PhoneNumber
        )
    };
    if out.len() >= MAX_SUBJECTS || !findings.iter().any(|f| wanted(&f)) {
        return;
    }
    // One pass maps the findings' char offsets to bytes, keeping only
    // those offsets: memory follows the findings, not the string.
    let mut points: Vec<usize> = findings
        .iter()
        .filter(wanted)
        .flat_map(|f| [f.start, f.end])
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut bytes = Vec::with_capacity(points.len());
    for (ci, (bi, _)) in s.char_indices().enumerate() {
        while bytes.len() < points.len() && points[bytes.len()] == ci {
            bytes.push(bi);
        }
        if bytes.len() == points.len() {
            break;
        }
    }
    bytes.resize(points.len(), s.len());
    let at = |c: usize| points.binary_search(&c).ok().map(|i| bytes[i]);
    for f in findings.iter().filter(wanted) {
        let (Some(from), Some(to)) = (at(f.start), at(f.end)) else {
            continue;
        };
        if let Some(n) = s.get(from..to).and_then(normalise_subject) {
            if out.len() >= MAX_SUBJECTS {
                return;
            }
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
}

/// Records a decision's audit event. A block is written before the answer
/// leaves, so a crash cannot lose the record of what was refused; other
/// decisions are written behind the response, in batches.
pub async fn record(gw: &Gateway, event: Option<audit_writer::Decision>) {
    match event {
        Some(e) if e.action == AuditAction::PolicyBlock => gw.audit.push_and_wait(e).await,
        Some(e) => gw.audit.push(e).await,
        None => {}
    }
}

/// The audit event for a decision: types and rule ids, never values.
pub fn event(
    tenant_id: &TenantId,
    request_id: &str,
    d: &Decision,
    direction: Direction,
) -> Option<audit_writer::Decision> {
    let (action, status) = match d.action {
        Action::Allow => return None,
        Action::Flag => (AuditAction::PolicyFlag, AuditStatus::Success),
        Action::Redact => (AuditAction::PolicyRedact, AuditStatus::Success),
        Action::Block => (AuditAction::PolicyBlock, AuditStatus::Denied),
    };
    Some(audit_writer::Decision {
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
    })
}

//! Data policies: rules that map an entity type, or a classification level
//! and above, to what the gateway does with a request that contains it.

use crate::domain::tenant::TenantId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::pii::{Classification, EntityType, Finding};
use super::validation::Invalid;

/// Ordered by severity: when several rules apply, the most severe wins.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Flag,
    Redact,
    Block,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Allow, Action::Flag, Action::Redact, Action::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Redact => "redact",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Invalid::new("action", "must be allow, redact, block or flag"))
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Prompt,
    Response,
}

impl Direction {
    fn prompt() -> Direction {
        Direction::Prompt
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Prompt => "prompt",
            Direction::Response => "response",
        }
    }
}

impl FromStr for Direction {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prompt" => Ok(Direction::Prompt),
            "response" => Ok(Direction::Response),
            _ => Err(Invalid::new("direction", "must be prompt or response")),
        }
    }
}

/// What a rule applies to.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Target {
    Entity(EntityType),
    /// Findings at this classification or above.
    Classification(Classification),
}

impl Target {
    pub fn parse(entity: Option<&str>, classification: Option<&str>) -> Result<Self, Invalid> {
        match (
            entity.map(str::trim).filter(|s| !s.is_empty()),
            classification.map(str::trim).filter(|s| !s.is_empty()),
        ) {
            (Some(e), None) => e
                .parse()
                .map(Target::Entity)
                .map_err(|m: String| Invalid::new("entity", m)),
            (None, Some(c)) => c
                .parse()
                .map(Target::Classification)
                .map_err(|m: String| Invalid::new("classification", m)),
            _ => Err(Invalid::new(
                "entity",
                "give either an entity type or a classification",
            )),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Target::Entity(_) => "entity",
            Target::Classification(_) => "classification",
        }
    }

    pub fn value(self) -> &'static str {
        match self {
            Target::Entity(e) => e.as_str(),
            Target::Classification(c) => c.as_str(),
        }
    }

    pub fn from_stored(kind: &str, value: &str) -> Option<Self> {
        match kind {
            "entity" => value.parse().ok().map(Target::Entity),
            "classification" => value.parse().ok().map(Target::Classification),
            _ => None,
        }
    }

    fn matches(self, f: &Finding) -> bool {
        match self {
            Target::Entity(e) => f.entity_type == e,
            Target::Classification(c) => f.entity_type.classification() >= c,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Entity(e) => write!(f, "{e}"),
            Target::Classification(c) => write!(f, "{} and above", c.as_str()),
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRule {
    pub id: String,
    /// `None`: the platform default, for tenants without rules of their own.
    pub tenant_id: Option<TenantId>,
    pub target: Target,
    pub action: Action,
    pub direction: Direction,
    pub created_at: i64,
}

/// A new rule, for a tenant or (without one) the platform default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    pub target: Target,
    pub action: Action,
    #[serde(default = "Direction::prompt")]
    pub direction: Direction,
}

/// A rule's fields to change; absent ones stay. Its tenant is fixed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    pub target: Option<Target>,
    pub action: Option<Action>,
    pub direction: Option<Direction>,
}

impl PolicyRule {
    /// The rule with `change` applied.
    pub fn changed(&self, change: &PolicyChange) -> PolicyRule {
        PolicyRule {
            target: change.target.unwrap_or(self.target),
            action: change.action.unwrap_or(self.action),
            direction: change.direction.unwrap_or(self.direction),
            ..self.clone()
        }
    }
}

/// What a set of rules decides for some findings.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    /// The rules that applied, most severe first.
    pub rule_ids: Vec<String>,
    /// Entity types that triggered a non-allow action (never their values).
    pub entity_types: Vec<EntityType>,
    /// Findings to replace when the action is `redact` (also those flagged
    /// alongside a redaction are left alone).
    pub redact: Vec<Finding>,
    pub classification: Classification,
}

/// What a policy would do with a piece of text (the portal's "try it").
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub findings: Vec<Finding>,
    pub decision: Decision,
    /// The text as the provider would see it; `None` when blocked.
    pub forwarded: Option<String>,
}

/// Applies `rules` (already chosen for the tenant) to `findings`. For each
/// finding, a rule naming its entity type wins over classification rules;
/// among classification rules the most severe applies. The request's
/// action is the most severe over all findings.
pub fn evaluate(rules: &[PolicyRule], findings: &[Finding], direction: Direction) -> Decision {
    let rules: Vec<&PolicyRule> = rules.iter().filter(|r| r.direction == direction).collect();
    let mut decision = Decision::allow();
    decision.classification = super::pii::highest_classification(findings);
    for f in findings {
        let Some(rule) = rule_for(&rules, f) else {
            continue;
        };
        if rule.action == Action::Allow {
            continue;
        }
        decision.note(rule.action, &rule.id, f.entity_type);
        if rule.action == Action::Redact {
            decision.redact.push(f.clone());
        }
    }
    // A response cannot be refused after the fact: blocking it redacts it.
    if direction == Direction::Response && decision.action == Action::Block {
        decision.redact = findings.to_vec();
    }
    decision
}

impl Decision {
    /// Nothing found, nothing to do.
    pub fn allow() -> Self {
        Decision {
            action: Action::Allow,
            rule_ids: Vec::new(),
            entity_types: Vec::new(),
            redact: Vec::new(),
            classification: Classification::Public,
        }
    }

    fn note(&mut self, action: Action, rule_id: &str, entity: EntityType) {
        self.action = self.action.max(action);
        if !self.rule_ids.iter().any(|r| r == rule_id) {
            self.rule_ids.push(rule_id.to_string());
        }
        if let Err(at) = self.entity_types.binary_search(&entity) {
            self.entity_types.insert(at, entity);
        }
    }

    /// Folds in the decision for another piece of the same request: the
    /// most severe action and classification, every rule and type.
    pub fn merge(&mut self, other: Decision) {
        self.classification = self.classification.max(other.classification);
        self.action = self.action.max(other.action);
        for id in &other.rule_ids {
            if !self.rule_ids.contains(id) {
                self.rule_ids.push(id.clone());
            }
        }
        for t in other.entity_types {
            if let Err(at) = self.entity_types.binary_search(&t) {
                self.entity_types.insert(at, t);
            }
        }
    }

    /// What a refused caller is told: the rules and types, never the values.
    pub fn refusal(&self) -> String {
        let types: Vec<&str> = self.entity_types.iter().map(|t| t.as_str()).collect();
        format!(
            "blocked by data policy {}: the prompt contains {}",
            self.rule_ids.join(", "),
            types.join(", ")
        )
    }
}

fn rule_for<'a>(rules: &[&'a PolicyRule], f: &Finding) -> Option<&'a PolicyRule> {
    let specific = rules
        .iter()
        .filter(|r| matches!(r.target, Target::Entity(_)) && r.target.matches(f))
        .max_by_key(|r| r.action);
    specific
        .or_else(|| {
            rules
                .iter()
                .filter(|r| matches!(r.target, Target::Classification(_)) && r.target.matches(f))
                .max_by_key(|r| r.action)
        })
        .copied()
}

/// Every rule, indexed by whom it governs: a tenant's own rules, or the
/// platform default when it has none.
#[derive(Debug, Default)]
pub struct PolicySet {
    all: Vec<PolicyRule>,
    by_tenant: HashMap<TenantId, Arc<[PolicyRule]>>,
    platform: Arc<[PolicyRule]>,
}

impl PolicySet {
    pub fn new(all: Vec<PolicyRule>) -> Self {
        let mut by_tenant: HashMap<TenantId, Vec<PolicyRule>> = HashMap::new();
        let mut platform = Vec::new();
        for rule in &all {
            match &rule.tenant_id {
                Some(t) => by_tenant.entry(t.clone()).or_default().push(rule.clone()),
                None => platform.push(rule.clone()),
            }
        }
        Self {
            by_tenant: by_tenant
                .into_iter()
                .map(|(t, rules)| (t, rules.into()))
                .collect(),
            platform: platform.into(),
            all,
        }
    }

    pub fn all(&self) -> &[PolicyRule] {
        &self.all
    }

    /// The rules that govern a tenant's traffic: its own, or the platform default.
    pub fn effective(&self, tenant_id: &str) -> Arc<[PolicyRule]> {
        self.by_tenant
            .get(tenant_id)
            .unwrap_or(&self.platform)
            .clone()
    }
}

pub mod stream;

#[cfg(test)]
mod tests;
